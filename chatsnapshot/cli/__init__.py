"""ChatSnapshot command line."""
