"""The notebooks' frame: the session and its provenance, parameters, advice, the shipped reference
nets."""
