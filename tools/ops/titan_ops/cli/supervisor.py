"""`titan up`: run every Titan process as a child, prefix their output, restart crashes.

Children start in their own session so a terminal Ctrl-C reaches only the supervisor,
which then stops them in order (SIGTERM, then SIGKILL after the grace period). Each child
also asks the kernel for SIGTERM should the supervisor die (PR_SET_PDEATHSIG), so even a
killed supervisor leaves no orphan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from titan_common.embedded import die_with_parent
from titan_common.logging import KeyEvent, key_event

log = logging.getLogger("titan.supervisor")

STOP_GRACE_S = 10.0
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0  # a child that ran this long has its backoff reset


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    backoff_s: float = 1.0
    started_monotonic: float = 0.0
    pumps: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None


class Supervisor:
    def __init__(self, children: list[Child], *, write: Callable[[str], None] | None = None) -> None:
        self.children = children
        self.stopping = asyncio.Event()
        self._write = write or _write_stdout
        self._width = max((len(c.name) for c in children), default=8)

    async def start_child(self, child: Child) -> None:
        child.process = await asyncio.create_subprocess_exec(
            *child.argv,
            env=child.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        child.started_monotonic = time.monotonic()
        assert child.process.stdout is not None
        child.pumps = [asyncio.create_task(self._pump(child.name, child.process.stdout))]
        log.info("started %s (pid %d)", child.name, child.process.pid)

    async def _pump(self, name: str, stream: asyncio.StreamReader) -> None:
        prefix = f"{name:<{self._width}} | "
        while True:
            line = await stream.readline()
            if not line:
                return
            self._write(prefix + line.decode(errors="replace").rstrip("\n"))

    async def run(self) -> None:
        """Start every child and keep them running until stop() is called."""
        for child in self.children:
            await self.start_child(child)
        watchers = [asyncio.create_task(self._watch(child)) for child in self.children]
        await self.stopping.wait()
        await self.stop_all()
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)

    async def _watch(self, child: Child) -> None:
        while not self.stopping.is_set():
            assert child.process is not None
            code = await child.process.wait()
            await asyncio.gather(*child.pumps, return_exceptions=True)
            if self.stopping.is_set():
                return
            ran_for = time.monotonic() - child.started_monotonic
            if ran_for >= STABLE_AFTER_S:
                child.backoff_s = 1.0
            key_event(
                log,
                KeyEvent.CRASH,
                f"{child.name} exited with code {code} after {ran_for:.1f}s; restart #{child.restarts + 1} "
                f"in {child.backoff_s:.0f}s",
                level=logging.ERROR,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=child.backoff_s)
            if self.stopping.is_set():
                return
            child.backoff_s = min(child.backoff_s * 2, MAX_BACKOFF_S)
            child.restarts += 1
            await self.start_child(child)

    def stop(self) -> None:
        self.stopping.set()

    async def stop_all(self, grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM every child (console first, simulator last), SIGKILL what is left after the grace."""
        running = [c for c in reversed(self.children) if c.process and c.process.returncode is None]
        for child in running:
            assert child.process is not None
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
        waits = [asyncio.create_task(c.process.wait()) for c in running if c.process]
        if waits:
            _done, pending = await asyncio.wait(waits, timeout=grace_s)
            if pending:
                for child in running:
                    if child.process and child.process.returncode is None:
                        log.error("%s ignored SIGTERM for %.0fs; killing it", child.name, grace_s)
                        with contextlib.suppress(ProcessLookupError):
                            child.process.kill()
                await asyncio.gather(*pending, return_exceptions=True)
        for child in self.children:
            await asyncio.gather(*child.pumps, return_exceptions=True)


def _write_stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
