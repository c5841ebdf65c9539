"""The simulator's one settings object. It is an exchange: it needs no Postgres or Redis."""

from __future__ import annotations

from titan_common.settings import CommonSettings


class SimSettings(CommonSettings):
    pass
