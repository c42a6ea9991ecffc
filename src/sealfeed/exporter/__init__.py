"""sealfeed.exporter (being built)."""
