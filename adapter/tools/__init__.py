"""Command-line tools around the adapter: see what a config does before it serves."""
