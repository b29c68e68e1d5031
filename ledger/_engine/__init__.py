"""The storage engine (private)."""
