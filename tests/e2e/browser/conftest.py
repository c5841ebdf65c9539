"""The live stack for the browser tests, and Debian's chromium driven by Playwright."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.console.conftest import create_accounts
from tests.integration.console.stack import ADMIN, Stack, running_stack
from titan_common.auth.roles import Role

CHROMIUM = "/usr/bin/chromium"
VIEWER = ("viewer-e2e", "viewer-password")
ARTIFACTS = Path(__file__).resolve().parents[3] / "var" / "test-artifacts" / "console-e2e"


@pytest.fixture(scope="package")
def browser_stack(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("console-e2e-stack")
    # both venues, as `make run` trades them: the page must show each one
    with running_stack(root, database_url, venues=("bybit", "mexc")) as live:
        # after the console has started (it bootstraps admin/password in PAPER itself, but only
        # on an empty users table: an earlier test in this database may have added someone)
        accounts = {ADMIN[0]: (ADMIN[1], Role.ADMIN), VIEWER[0]: (VIEWER[1], Role.VIEWER)}
        asyncio.run(create_accounts(database_url, accounts))
        yield live


@pytest.fixture(scope="package")
def artifacts() -> Path:
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="package")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    return CHROMIUM
