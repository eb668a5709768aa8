"""Training: corpus conversion, ingestion, the trainer and the default-model recipe."""
