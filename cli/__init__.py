"""Command-line interfaces: thin layers over the documented library functions."""
