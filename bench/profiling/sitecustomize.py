"""Profiles a Titan service started by `titan up` (which cannot be told to): with this
directory on PYTHONPATH and TITAN_BENCH_PROFILE_DIR set, every `python -m titan_*` process
runs under cProfile and writes <dir>/<package>.pstats when it exits (SIGTERM exits through
sys.exit, so atexit runs). Only the main thread is profiled: the event loop's."""

from __future__ import annotations

import atexit
import cProfile
import itertools
import os
from pathlib import Path

_OUT = os.environ.get("TITAN_BENCH_PROFILE_DIR")


def _package() -> str | None:
    try:
        argv = Path("/proc/self/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    for flag, name in itertools.pairwise(argv):
        if flag == b"-m" and name.startswith(b"titan_"):
            return name.decode()
    return None


_NAME = _package() if _OUT else None
if _OUT and _NAME:
    _profiler = cProfile.Profile()

    def _dump() -> None:
        _profiler.disable()
        _profiler.dump_stats(str(Path(_OUT) / f"{_NAME}.pstats"))

    atexit.register(_dump)
    _profiler.enable()
