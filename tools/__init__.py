"""Developer tools that drive the real app, e.g. the documentation screenshots."""
