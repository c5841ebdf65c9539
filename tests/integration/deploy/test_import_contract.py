"""The layering contract (pyproject's [tool.importlinter], run by `make lint`): titan_common
imports no service and no tool above it, no service imports another, inside each service
core imports neither runtime nor api, and the backtest reads only the services' cores.

The contract holds on the tree as it is, and it fails on a tree that breaks it: a copy of
every package with two violations put in, found first on the import path. titan_common
names no service by string either (an import the contract could not see)."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
PACKAGES = [
    ROOT / "libs" / "titan_common" / "titan_common",
    *sorted((ROOT / "services").glob("*/titan_*")),
    *sorted((ROOT / "tools").glob("*/titan_*")),
]
SERVICE_NAME = re.compile(r"\btitan_(brain|execution|console|scavenger|sim|worker|backtest|ops)\b")


def lint_imports(extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(extra_path)} if extra_path else dict(os.environ)
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=extra_path or ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_contract_holds() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_the_contract_fails_on_a_violation(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    for package in PACKAGES:
        shutil.copytree(package, shadow / package.name, ignore=shutil.ignore_patterns("__pycache__"))
    (shadow / "titan_common" / "_probe.py").write_text("import titan_brain.runtime  # a violation\n")
    (shadow / "titan_scavenger" / "core" / "_probe.py").write_text("from titan_scavenger.runtime import metrics\n")
    result = lint_imports(shadow)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 broken" in result.stdout
    assert "titan_common._probe -> titan_brain.runtime" in result.stdout
    assert "titan_scavenger.core._probe -> titan_scavenger.runtime.metrics" in result.stdout


def test_titan_common_names_no_service_by_string() -> None:
    found = []
    for path in sorted((ROOT / "libs" / "titan_common" / "titan_common").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        strings = [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        found += [
            f"{path.relative_to(ROOT)}:{n.lineno}: {n.value!r}"
            for n in strings
            if id(n) not in docstrings and SERVICE_NAME.search(n.value)
        ]
    assert found == []
