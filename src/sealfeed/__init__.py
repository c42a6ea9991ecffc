"""sealfeed: an attested appliance for multi-node Chainlink Data Feeds."""

__version__ = "0.1.0"

__all__ = ["__version__"]
