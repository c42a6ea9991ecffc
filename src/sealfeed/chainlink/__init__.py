"""sealfeed.chainlink (being built)."""
