"""The console's one settings object (environment prefix TITAN_)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from titan_common.settings import ServiceSettings


class ConsoleSettings(ServiceSettings):
    # STATE_UPDATE cadence on /ws/console
    state_interval_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    # /health, /api/status and the panel answer from a snapshot of every service's /health,
    # asked this often; older than snapshot_max_age_s, the answer says degraded
    snapshot_interval_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    snapshot_max_age_s: Annotated[float, Field(gt=0, le=600)] = 5.0
    # how long one call to another service may take (reads); emergency actions get longer
    upstream_timeout_s: Annotated[float, Field(gt=0)] = 3.0
    action_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    # browser sessions
    session_ttl_s: Annotated[int, Field(ge=60)] = 12 * 3600
    session_cookie: str = "titan_session"
    # a correct HTTP Basic password is remembered this long (argon2 costs ~100 ms per check)
    auth_cache_ttl_s: Annotated[float, Field(ge=0)] = 30.0
    # failed logins: per user+address, then per address alone (nginx forwards the address)
    login_max_failures: Annotated[int, Field(ge=1)] = 5
    login_address_max_failures: Annotated[int, Field(ge=1)] = 50
    login_window_s: Annotated[int, Field(ge=1)] = 300
    login_lock_s: Annotated[int, Field(ge=1)] = 30
    login_max_lock_s: Annotated[int, Field(ge=1)] = 900
    # kill switch confirmation codes live this long
    kill_switch_code_ttl_s: Annotated[int, Field(ge=10)] = 120
    # execution's churn limits, for the panel's "near limit" (same variables execution reads)
    churn_limit_10s: Annotated[int, Field(ge=1)] = 10
    churn_limit_60s: Annotated[int, Field(ge=1)] = 30
