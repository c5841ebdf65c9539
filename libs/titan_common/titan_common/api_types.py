"""Field types for API inputs, bounded to what Titan can store: every integer fits a
Postgres BIGINT (or INTEGER), so no input reaches the database as an overflow. NUL bytes,
which Postgres text cannot hold, are refused for every request by `MutationGuard` (bodies)
and `nul_refusal` (paths and query strings), so no field needs to name them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

BIGINT_MAX = 2**63 - 1
INTEGER_MAX = 2**31 - 1

EpochMs = Annotated[int, Field(ge=0, le=BIGINT_MAX, description="UTC milliseconds")]
RowId = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
