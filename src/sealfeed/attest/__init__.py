"""sealfeed.attest (being built)."""
