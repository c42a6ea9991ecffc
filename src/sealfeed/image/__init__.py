"""sealfeed.image (being built)."""
