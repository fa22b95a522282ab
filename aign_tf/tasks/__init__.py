"""Per-task data, metrics and summaries."""
