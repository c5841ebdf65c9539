"""Governance phase 1 lock: `titan preflight` against governance.lock, `titan governance lock`,
LIVE refusing on a mismatch, and the repository's own lock kept in sync (the CI check)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from titan_common.live import LiveRefused
from titan_common.settings import CommonSettings, SystemMode
from titan_ops.cli import governance
from titan_ops.cli.up import check_live_preconditions

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
TITAN = str(Path(sys.executable).parent / "titan")
MARKER = governance.MARKER

# What phase 1 must cover at least: the risk pipeline, the live locks, order placement,
# and the lock's own checker.
REQUIRED = {
    "services/brain/titan_brain/core/evaluate.py",
    "services/brain/titan_brain/core/sizing.py",
    "services/brain/titan_brain/core/phases.py",
    "services/brain/titan_brain/core/breaker.py",
    "services/brain/titan_brain/core/aigate.py",
    "tools/ops/titan_ops/cli/up.py",
    "services/execution/titan_execution/runtime/engine.py",
    "tools/ops/titan_ops/cli/governance.py",
}


def titan(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([TITAN, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small checkout: two locked files, one ordinary file, locked after review."""
    (tmp_path / "services" / "brain" / "core").mkdir(parents=True)
    (tmp_path / "libs" / "cli").mkdir(parents=True)
    (tmp_path / "deploy").mkdir()
    (tmp_path / "services" / "brain" / "core" / "risk.py").write_text(f"{MARKER}\nMAX_RISK = 0.02\n")
    (tmp_path / "libs" / "cli" / "up.py").write_text(f'"""Live locks."""\n{MARKER}\nNEEDS_FLAG = True\n')
    (tmp_path / "libs" / "cli" / "other.py").write_text("x = 1\n")
    locked = titan("governance", "lock", "--root", str(tmp_path), cwd=tmp_path)
    assert locked.returncode == 0, locked.stdout
    assert "locked 2 file(s)" in locked.stdout
    return tmp_path


def test_an_untouched_checkout_passes_preflight(repo: Path) -> None:
    result = titan("preflight", cwd=repo)
    assert result.returncode == 0, result.stdout
    assert "2 locked file(s) unchanged" in result.stdout
    # the lock is sha256sum's format: an operator can check it by hand
    assert subprocess.run(["sha256sum", "-c", "--quiet", "governance.lock"], cwd=repo, check=False).returncode == 0
    risk = repo / "services/brain/core/risk.py"
    assert (
        f"{hashlib.sha256(risk.read_bytes()).hexdigest()}  services/brain/core/risk.py"
        in (repo / "governance.lock").read_text()
    )


def test_tampering_with_a_locked_file_exits_2(repo: Path) -> None:
    risk = repo / "services/brain/core/risk.py"
    risk.write_text(risk.read_text().replace("0.02", "0.20"))
    result = titan("preflight", cwd=repo)
    assert result.returncode == 2
    assert "locked file changed: services/brain/core/risk.py" in result.stdout
    assert "LIVE will not start" in result.stdout
    # an unmarked file may change freely
    risk.write_text(f"{MARKER}\nMAX_RISK = 0.02\n")
    (repo / "libs/cli/other.py").write_text("x = 2\n")
    assert titan("preflight", cwd=repo).returncode == 0


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: (r / "libs/cli/up.py").unlink(), "locked file missing: libs/cli/up.py"),
        (lambda r: (r / "libs/cli/up.py").write_text("NEEDS_FLAG = False\n"), "locked file lost its marker"),
        (lambda r: (r / "libs/cli/new.py").write_text(f"{MARKER}\n"), "marked file not in governance.lock"),
        (lambda r: (r / "governance.lock").unlink(), "governance.lock is missing"),
        (lambda r: (r / "governance.lock").write_text("garbage\n"), "is not '<sha256>  <path>'"),
    ],
    ids=["deleted", "unmarked", "new-unreviewed", "no-lock", "corrupt-lock"],
)
def test_every_kind_of_drift_exits_2(repo: Path, change: object, problem: str) -> None:
    change(repo)  # type: ignore[operator]
    result = titan("preflight", cwd=repo)
    assert result.returncode == 2, result.stdout
    assert problem in result.stdout


def test_relocking_after_review_clears_the_mismatch(repo: Path) -> None:
    risk = repo / "services/brain/core/risk.py"
    risk.write_text(f"{MARKER}\nMAX_RISK = 0.015\n")
    assert titan("preflight", cwd=repo).returncode == 2
    relocked = titan("governance", "lock", "--root", str(repo), cwd=repo)
    assert "updated services/brain/core/risk.py" in relocked.stdout
    assert titan("preflight", cwd=repo).returncode == 0


def test_live_refuses_and_names_the_mismatch() -> None:
    settings = CommonSettings(system_mode=SystemMode.LIVE)
    with pytest.raises(LiveRefused, match=r"governance lock mismatch.*locked file changed: x\.py"):
        check_live_preconditions(settings, True, [], ["locked file changed: x.py"])


def test_titan_up_refuses_live_with_a_tampered_lock(repo: Path, database_url: str, redis_url: str) -> None:
    """The real `titan up`, everything else LIVE needs in place: only the lock stops it."""
    (repo / "var").mkdir()
    (repo / "var" / "LIVE.ok").write_text("reviewed\n")
    risk = repo / "services/brain/core/risk.py"
    risk.write_text(risk.read_text() + "# tampered\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TITAN_")},
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SYSTEM_MODE": "LIVE",
        "TITAN_VAR_DIR": str(repo / "var"),
        "TITAN_INTERNAL_TOKEN": "a-reviewed-secret-token",
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [TITAN, "up", "--live"], cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "LIVE refused" in result.stdout
    assert "governance lock mismatch" in result.stdout
    assert "locked file changed: services/brain/core/risk.py" in result.stdout


def test_the_repository_lock_is_in_sync_and_covers_phase_1() -> None:
    """CI: a change to a locked file fails here until it is reviewed and `titan governance lock` is run."""
    check = governance.check_lock(ROOT)
    assert check.ok, "governance.lock is out of date:\n" + "\n".join(check.problems)
    missing = REQUIRED - set(check.locked)
    assert not missing, f"not under the governance lock: {sorted(missing)}"
