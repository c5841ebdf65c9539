"""What every benchmark reports the same way: the machine it ran on, and its row in a
section of docs/benchmarks.md (the section, its note and table header made the first time)."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def machine(*, load: bool = True) -> str:
    """CPUs, CPU model, Python and system; with `load`, the 1-minute load average too (other
    processes share the cores)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{os.cpu_count()} CPU, {cpu}, Python {platform.python_version()}, {platform.system()}"
    return f"{text}, load {os.getloadavg()[0]:.1f}" if load else text


def record(section: str, note: str, columns: Sequence[str], cells: Sequence[object]) -> None:
    """Append one row to `section`'s table, creating the section (heading, note, header)
    at the end of the file the first time."""
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n\nRows are appended by the scripts in `bench/`.\n"
    row = "| " + " | ".join(str(c) for c in cells) + " |\n"
    if section not in text:
        header = "| " + " | ".join(columns) + " |\n" + "|" + "---|" * len(columns) + "\n"
        text = text.rstrip("\n") + f"\n\n{section}\n\n{note.strip()}\n\n" + header + row
    else:
        lines = text.splitlines(keepends=True)
        end = next(i for i, line in enumerate(lines) if line.startswith(section)) + 1
        while end < len(lines) and not lines[end].startswith("|"):
            end += 1  # to the table
        while end < len(lines) and lines[end].startswith("|"):
            end += 1  # past its last row
        lines.insert(end, row)
        text = "".join(lines)
    path.write_text(text)
