"""Measurements of nets: gradients, block responses and lesions, loss landscapes, cost."""
