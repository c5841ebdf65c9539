"""API inputs bounded to what Titan can store: every integer that reaches the database
fits a Postgres BIGINT, so no input arrives there as an overflow (a 500). NUL bytes, which
Postgres text cannot hold, are refused for every request by `service.RequestGuard`, so no
field needs to name them."""

from __future__ import annotations

from typing import Any

from fastapi import Path, Query

BIGINT_MAX = 2**63 - 1


def epoch_ms_query(default: int = 0, description: str = "UTC milliseconds") -> Any:
    """A query parameter holding a time in UTC ms."""
    return Query(default, ge=0, le=BIGINT_MAX, description=description)


def row_id_path(description: str = "a row id") -> Any:
    """A path parameter naming a row by its BIGINT id."""
    return Path(ge=1, le=BIGINT_MAX, description=description)
