"""A run: options, the pytest plugin and its session, the resources it creates and the ledger that cleans up."""
