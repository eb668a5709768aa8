"""Accompaniment: a melody with the parts under it on a beat grid (issue 20).

grid.py holds the value types every accompaniment path shares (the
Arrangement grid, its step tokens and config); extraction from multi-track
files, the model, sampling and evaluation build on them.
"""
