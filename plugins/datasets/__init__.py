"""Dataset readers shared by the built-in plugins."""
