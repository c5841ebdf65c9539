"""Postgres: models, the async engine, and migrations."""
