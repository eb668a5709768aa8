"""Networks, model files, one-step runtimes, sampling, device choice."""
