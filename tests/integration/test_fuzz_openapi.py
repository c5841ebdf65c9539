"""No input gets a 5xx: schemathesis, with a fixed seed, against every service's own
OpenAPI (brain, execution, scavenger, console, simulator), as an operator, on a stack of
its own (the fuzzer arms, flattens and edits the config; no other test may see that).

The simulator's exchange face is fuzzed with the stack; its /sim control API (faults,
clock, bursts: the test harness's steering wheel) on a simulator of its own, because the
faults it sets would slow or break every later case against the stack.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import create_database, drop_database
from tests.integration.console.conftest import create_accounts
from tests.integration.console.stack import Stack, running_stack
from tests.integration.execution.conftest import running_simulator
from titan_common.auth.roles import Role
from titan_common.db import migrate

pytestmark = pytest.mark.integration

SEED = 20261204
OPERATOR = ("fuzz-operator", "fuzz-operator-password")
SERVICES = ("brain", "execution", "scavenger", "console", "simulator")
EXTRA_ARGS = {"simulator": ["--exclude-path-regex", "^/sim/"]}
ST = str(Path(sys.executable).parent / "st")


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory, postgres_server_url: str) -> Iterator[Stack]:
    name = f"titan_fuzz_{uuid.uuid4().hex[:8]}"
    url = create_database(postgres_server_url, name)
    try:
        migrate.upgrade(url)
        asyncio.run(create_accounts(url, {OPERATOR[0]: (OPERATOR[1], Role.OPERATOR)}))
        with running_stack(tmp_path_factory.mktemp("fuzz-stack"), url) as stack:
            yield stack
    finally:
        drop_database(postgres_server_url, name)


def fuzz(name: str, base_url: str, cwd: Path, *extra: str) -> None:
    command = [
        ST, "run", f"{base_url}/openapi.json",
        "--checks", "not_a_server_error",
        "--seed", str(SEED),
        "--max-examples", "10",
        "--workers", "1",
        "--request-timeout", "30",
        "--generation-database", "none",
        "--auth", f"{OPERATOR[0]}:{OPERATOR[1]}",
        "--no-color",
        *extra,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=580, cwd=cwd)
    generated = re.search(r"(\d+) generated", result.stdout)
    print(f"{name}: schemathesis generated {generated.group(1) if generated else '?'} cases (seed {SEED})")
    assert result.returncode == 0, result.stdout[-6000:]
    assert generated is not None
    assert int(generated.group(1)) > 0


@pytest.mark.timeout(600)
@pytest.mark.parametrize("service", SERVICES)
def test_no_input_gets_a_server_error(service: str, fuzz_stack: Stack, tmp_path: Path) -> None:
    fuzz(service, fuzz_stack.url(service), tmp_path, *EXTRA_ARGS.get(service, []))


@pytest.mark.timeout(600)
def test_the_simulators_control_api_gets_no_server_error(tmp_path: Path) -> None:
    (tmp_path / "sim").mkdir()
    with running_simulator(tmp_path / "sim") as sim:
        fuzz("simulator /sim control", sim.url, tmp_path, "--include-path-regex", "^/sim/")
