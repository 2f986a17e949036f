"""Training: the data on the device, the loop and its one step, recipes and profiles, runs and
their cache, the plan."""
