"""sealfeed.s6 (being built)."""
