"""sealfeed.postgres (being built)."""
