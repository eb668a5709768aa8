"""Measures of music and models: likelihood, statistics, copy meter."""
