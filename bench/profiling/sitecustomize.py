"""Profiles a Titan service started by `titan up` (which cannot be told to): with this
directory on PYTHONPATH and TITAN_BENCH_PROFILE_DIR set, every `python -m titan_*` process
runs under a profiler and writes its report to that directory when it exits (SIGTERM exits
through sys.exit, so atexit runs). Only the main thread is profiled: the event loop's.

TITAN_BENCH_PROFILER picks the profiler:
- `cprofile` (default): <package>.pstats, every call counted (read with pstats);
- `pyinstrument`: <package>.pyinstrument.txt and .html, a sampling profile (1 ms) of where
  the event loop's time goes, call stacks whole, at a fraction of cProfile's overhead."""

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


def _cprofile(out: Path, name: str) -> None:
    profiler = cProfile.Profile()

    def dump() -> None:
        profiler.disable()
        profiler.dump_stats(str(out / f"{name}.pstats"))

    atexit.register(dump)
    profiler.enable()


def _pyinstrument(out: Path, name: str) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001, async_mode="disabled")

    def dump() -> None:
        profiler.stop()
        (out / f"{name}.pyinstrument.txt").write_text(profiler.output_text(unicode=True, show_all=False))
        (out / f"{name}.pyinstrument.html").write_text(profiler.output_html())

    atexit.register(dump)
    profiler.start()


_NAME = _package() if _OUT else None
if _OUT and _NAME:
    if os.environ.get("TITAN_BENCH_PROFILER", "cprofile") == "pyinstrument":
        _pyinstrument(Path(_OUT), _NAME)
    else:
        _cprofile(Path(_OUT), _NAME)
