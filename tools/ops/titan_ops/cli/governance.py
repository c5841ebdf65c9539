# GOVERNANCE PHASE 1 — LOCKED
# Changes need explicit approval and a security review, then `titan governance lock`.
"""Governance phase 1 lock (omni-master-operations.md §4): files marked
`# GOVERNANCE PHASE 1 — LOCKED` may change only after review.

`governance.lock` at the repository root holds one `<sha256>  <path>` line per marked
file (the `sha256sum` format, so `sha256sum -c governance.lock` checks it by hand too).
`titan preflight` compares: a changed, missing, unmarked or unlisted file is a mismatch
(exit 2). `titan up` refuses LIVE on a mismatch and warns in PAPER. `titan governance
lock` rewrites the file after the review.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MARKER = "# GOVERNANCE PHASE 1 — LOCKED"
LOCK_FILE = "governance.lock"
# where locked code can live, and what is never scanned
SCANNED_DIRS = ("libs", "services", "tools", "scripts", "deploy")
SCANNED_SUFFIXES = frozenset({".py", ".sh", ".yml", ".yaml", ".toml", ".conf", ".js"})
SKIPPED_PARTS = frozenset({".venv", "var", ".git", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache"})
EXIT_MISMATCH = 2


@dataclass
class LockCheck:
    root: Path
    locked: dict[str, str]  # path -> sha256, from governance.lock
    marked: dict[str, str]  # path -> sha256, as the files are now
    lock_missing: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _is_checkout(directory: Path) -> bool:
    """A Titan checkout: it holds the lock, or the folders locked code lives in (whose
    lock may be missing, which is a mismatch, not a reason to look elsewhere)."""
    return (directory / LOCK_FILE).exists() or all(
        (directory / name).is_dir() for name in ("libs", "services", "deploy")
    )


def repo_root(start: Path | None = None) -> Path:
    """The checkout to check: the nearest one upward from `start` (default: cwd), else the
    one this package runs from (an editable install sits inside its checkout)."""
    for origin in (start or Path.cwd(), Path(__file__).resolve()):
        for candidate in (origin, *origin.parents):
            if _is_checkout(candidate):
                return candidate
    return start or Path.cwd()


def is_marked(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as handle:
            return any(line.strip() == MARKER for line in handle)
    except (OSError, UnicodeDecodeError):
        return False


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _candidates(root: Path) -> Iterator[Path]:
    for top in SCANNED_DIRS:
        base = root / top
        if not base.is_dir():
            continue
        for path in base.rglob("*"):
            if path.suffix in SCANNED_SUFFIXES and path.is_file() and not SKIPPED_PARTS & set(path.parts):
                yield path


def marked_files(root: Path) -> dict[str, str]:
    """Every marked file under the scanned folders: relative POSIX path -> SHA-256."""
    return {path.relative_to(root).as_posix(): sha256_of(path) for path in sorted(_candidates(root)) if is_marked(path)}


def read_lock(root: Path) -> dict[str, str] | None:
    lock = root / LOCK_FILE
    if not lock.exists():
        return None
    entries = {}
    for number, line in enumerate(lock.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        digest, _, path = line.partition("  ")
        if len(digest) != 64 or not path:
            raise ValueError(f"{LOCK_FILE} line {number} is not '<sha256>  <path>': {line!r}")
        entries[path.strip()] = digest
    return entries


def render_lock(entries: dict[str, str]) -> str:
    return "".join(f"{digest}  {path}\n" for path, digest in sorted(entries.items()))


def write_lock(root: Path) -> dict[str, str]:
    """Lock the marked files as they are now (after review). Returns what was locked."""
    entries = marked_files(root)
    tmp = root / (LOCK_FILE + ".tmp")
    tmp.write_text(render_lock(entries), encoding="utf-8")
    tmp.replace(root / LOCK_FILE)
    return entries


def check_lock(root: Path) -> LockCheck:
    """Compare the marked files with governance.lock; every difference is a problem."""
    marked = marked_files(root)
    try:
        locked = read_lock(root)
    except ValueError as exc:
        return LockCheck(root, {}, marked, problems=[str(exc)])
    check = LockCheck(root, locked or {}, marked, lock_missing=locked is None)
    if locked is None:
        check.problems.append(f"{LOCK_FILE} is missing in {root}")
        return check
    for path, digest in sorted(locked.items()):
        if not (root / path).exists():
            check.problems.append(f"locked file missing: {path}")
        elif path not in marked:
            check.problems.append(f"locked file lost its marker: {path}")
        elif marked[path] != digest:
            check.problems.append(f"locked file changed: {path} (sha256 {marked[path][:12]}…, lock {digest[:12]}…)")
    for path in sorted(set(marked) - set(locked)):
        check.problems.append(f"marked file not in {LOCK_FILE}: {path}")
    return check
