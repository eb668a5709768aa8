"""Token representations and the registry that rebuilds one from a model file."""
