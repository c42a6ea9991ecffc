"""sealfeed.aggregator (being built)."""
