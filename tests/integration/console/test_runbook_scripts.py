"""The runbook's scripts against the console's live stack: each prints a readable result and
says FAIL clearly when what it reads is missing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.integration.console.stack import Stack

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def script(stack: Stack, name: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / name), *args],
        env={**os.environ, **stack.env, **env}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def until_brain_runs_the_active_config(stack: Stack) -> str:
    import time

    tag = httpx.get(f"{stack.console}/api/console/config", timeout=30).json()["version_tag"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = httpx.get(f"{stack.url('brain')}/health", timeout=10).json()
        if (body.get("checks", {}).get("brain") or {}).get("config_version") == tag:
            break
        time.sleep(0.2)
    return str(tag)


def test_config_drift_check(stack: Stack, tmp_path: Path) -> None:
    tag = until_brain_runs_the_active_config(stack)
    plain = script(stack, "config-drift-check.sh")
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert f"✓ the brain runs {tag}" in plain.stdout
    assert "locked files match governance.lock" in plain.stdout

    active = httpx.get(f"{stack.console}/api/console/config", timeout=30).json()
    approved = tmp_path / "approved.json"
    approved.write_text(json.dumps({k: v for k, v in active.items() if k not in ("version_tag", "changed_by",
                                                                                  "created_ms")}))  # fmt: skip
    same = script(stack, "config-drift-check.sh", "--file", str(approved))
    assert same.returncode == 0, same.stdout
    assert "matches" in same.stdout

    edited = json.loads(approved.read_text())
    edited["risk_tuner"]["maxLeverage"] = 7 if edited["risk_tuner"]["maxLeverage"] != 7 else 8
    approved.write_text(json.dumps(edited))
    drifted = script(stack, "config-drift-check.sh", "--file", str(approved))
    assert drifted.returncode == 1
    assert "risk_tuner.maxLeverage" in drifted.stdout
    assert "FAIL config drift: 1 field(s) differ" in drifted.stdout

    no_console = script(stack, "config-drift-check.sh", TITAN_CONSOLE_PORT="1")
    assert no_console.returncode == 1
    assert "FAIL the console's active config is unreadable" in no_console.stdout


def test_capacity_metrics_plan_and_review(stack: Stack, tmp_path: Path) -> None:
    env = {"TITAN_VAR_DIR": str(tmp_path)}
    updated = script(stack, "update-capacity-metrics.sh", **env)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    history = json.loads((tmp_path / "status" / "capacity.json").read_text())
    (today,) = history.values()
    assert today["db_bytes"] > 0
    assert today["redis_mb"] > 0
    planned = script(stack, "update-capacity-plan.sh", **env)
    assert planned.returncode == 0, planned.stdout
    assert (tmp_path / "status" / "capacity-plan.md").exists()

    # three days of Redis growing toward its 1 GB: the plan says when, and fails within 30 days
    history = {f"2026-11-0{i + 1}": {**today, "redis_mb": 940.0 + 20 * i} for i in range(3)}
    (tmp_path / "status" / "capacity.json").write_text(json.dumps(history))
    review = script(stack, "capacity-planning-review.sh", **env)
    assert review.returncode == 1
    assert "FAIL within 90 days at the current trend: redis_mb" in review.stdout

    no_redis = script(stack, "update-capacity-metrics.sh", REDIS_URL="redis://127.0.0.1:1/0", **env)
    assert no_redis.returncode == 1
    assert "FAIL cannot read Redis" in no_redis.stdout


def test_maintenance_schedule_and_weekend_plan(stack: Stack, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    env = {"TITAN_MAINTENANCE_FILE": str(tmp_path / "maintenance.json")}
    empty = script(stack, "check-maintenance-schedule.sh", **env)
    assert empty.returncode == 0
    assert "nothing scheduled" in empty.stdout

    now = datetime.now(tz=UTC)
    tomorrow = (now + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    saturday = (now + timedelta(days=(5 - now.weekday()) % 7 or 7)).replace(hour=10, minute=0, second=0, microsecond=0)
    for start, what in ((tomorrow, "Postgres minor upgrade"), (saturday, "kernel patch")):
        added = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "titan"), "maintenance", "add", "--start", start.isoformat(),
             "--end", (start + timedelta(hours=2)).isoformat(), "--what", what, "--owner", "ops"],
            env={**os.environ, **stack.env, **env}, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert added.returncode == 0, added.stdout + added.stderr
    shown = script(stack, "check-maintenance-schedule.sh", **env)
    assert "Postgres minor upgrade" in shown.stdout
    weekend = script(stack, "plan-weekend-maintenance.sh", **env)
    assert weekend.returncode == 0
    assert "kernel patch" in weekend.stdout
    assert "disarm" in weekend.stdout

    (tmp_path / "maintenance.json").write_text('[{"start": "soon", "end": "later"}]')
    broken = script(stack, "check-maintenance-schedule.sh", **env)
    assert broken.returncode == 1
    assert "FAIL" in broken.stdout
    assert "is not an ISO time" in broken.stdout


def test_performance_and_health_reviews_and_the_weekly_report(stack: Stack, tmp_path: Path) -> None:
    for name, args, expect in (
        ("weekly-performance-review.sh", (), "max_drawdown_pct"),
        ("monthly-performance-review.sh", (), "profit_factor"),
        ("performance-trend-analysis.sh", ("--period", "7d"), "trend"),
        ("health-trend-analysis.sh", ("--period", "7d"), "degradations_by_service"),
    ):
        done = script(stack, name, *args)
        assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}"
        assert expect in done.stdout, name
    report = script(stack, "generate-weekly-report.sh", "--out", str(tmp_path / "weekly.html"))
    assert report.returncode == 0, report.stdout + report.stderr
    page = (tmp_path / "weekly.html").read_text()
    assert "Performance" in page
    assert "Health" in page

    no_execution = script(stack, "weekly-performance-review.sh", TITAN_EXECUTION_PORT="1")
    assert no_execution.returncode == 1
    assert "FAIL trades or equity unreadable" in no_execution.stdout
    no_database = script(stack, "health-trend-analysis.sh", DATABASE_URL="postgresql://postgres@127.0.0.1:1/none")
    assert no_database.returncode == 1
    assert "FAIL the audit trail is unreadable" in no_database.stdout
    bad_period = script(stack, "health-trend-analysis.sh", "--period", "fortnight")
    assert bad_period.returncode == 2
    assert "FAIL --period takes one of" in bad_period.stdout


def test_monthly_security_audit(stack: Stack) -> None:
    audit = script(stack, "monthly-security-audit.sh")
    # the PAPER stack keeps the console's bootstrap account and its default password: the
    # audit must say so, and fail
    assert audit.returncode == 1, audit.stdout + audit.stderr
    assert "accounts (" in audit.stdout
    assert "✓ TITAN_INTERNAL_TOKEN is set" in audit.stdout
    assert "failed logins since the console started" in audit.stdout
    assert "FAIL security audit: default password on" in audit.stdout
    no_database = script(stack, "monthly-security-audit.sh", DATABASE_URL="postgresql://postgres@127.0.0.1:1/none")
    assert no_database.returncode == 1
    assert "FAIL the accounts are unreadable" in no_database.stdout


def test_daily_summary_is_kept_and_mailed_when_smtp_is_set(stack: Stack, tmp_path: Path) -> None:
    env = {"TITAN_VAR_DIR": str(tmp_path)}
    kept = script(stack, "generate-daily-summary.sh", "--email", "operations@company.com", **env)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "SMTP is not configured (TITAN_SMTP_HOST): not mailed" in kept.stdout
    (written,) = (tmp_path / "status").glob("daily-summary-*.txt")
    assert "Titan daily summary" in written.read_text()
    refused = script(stack, "generate-daily-summary.sh", "--email", "ops@company.com", TITAN_SMTP_HOST="127.0.0.1",
                     TITAN_SMTP_PORT="1", **env)  # fmt: skip
    assert refused.returncode == 1
    assert "FAIL the summary could not be mailed to ops@company.com" in refused.stdout
    nobody = script(stack, "generate-daily-summary.sh", TITAN_BRAIN_PORT="1", TITAN_EXECUTION_PORT="1",
                    TITAN_CONSOLE_PORT="1", TITAN_SCAVENGER_PORT="1", **env)  # fmt: skip
    assert nobody.returncode == 1
    assert "FAIL no service answered /health" in nobody.stdout


def test_update_documentation_lists_every_script_the_runbooks_name(stack: Stack, tmp_path: Path) -> None:
    from titan_ops.cli.docs import runbooks_dir

    if runbooks_dir(ROOT) is None:
        pytest.skip("the runbooks are not next to this checkout")
    done = script(stack, "update-documentation.sh", "--out", str(tmp_path / "scripts.md"))
    assert done.returncode == 0, done.stdout + done.stderr
    table = (tmp_path / "scripts.md").read_text()
    assert "`review-ai-recommendations.sh` | ✓ | `titan quant review`" in table
    assert "✗ missing" not in table
