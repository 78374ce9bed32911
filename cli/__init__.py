"""The aigc command line."""
