"""The `titan` command: one entry point for people and scripts."""
