"""What the front ends call: generate, infill, evaluate, describe a model."""
