"""The curl commands of the operators' runbooks, parsed from the files themselves.

A command is a logical shell line inside a fenced code block: lines ending in a
backslash, and quoted text spanning lines (the manual's JSON bodies), are joined. Every
logical line that runs curl is one case; its pipeline's jq filters are what the operator
reads, so the contract test checks each filter's result types.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

RUNBOOKS = Path("/work/shared/runbooks")
if not RUNBOOKS.exists():  # a checkout next to `shared/`
    RUNBOOKS = Path(__file__).resolve().parents[4] / "shared" / "runbooks"
CONTRACT_FILES = ("daily-operations-runbook.md", "operator-manual.md")

FENCE = re.compile(r"^\s*```")


@dataclass(frozen=True)
class CurlCase:
    file: str
    line: int  # where the command starts in the file
    command: str  # the logical line, as written

    @property
    def id(self) -> str:
        return f"{self.file.split('-')[0]}:{self.line}:{self.method} {self.path}"

    @property
    def argv(self) -> list[str]:
        """The curl command's own words (before any pipe or ||)."""
        words = shlex.split(self.curl_part)
        return words[words.index("curl") :]

    @property
    def curl_part(self) -> str:
        return split_pipeline(self.command)[0]

    @property
    def jq_filters(self) -> list[str]:
        filters = []
        for stage in split_pipeline(self.command)[1:]:
            words = shlex.split(stage)
            if words and words[0] == "jq":
                args = [w for w in words[1:] if not w.startswith("-")]
                filters.append(args[0] if args else ".")
        return filters

    @property
    def url(self) -> str:
        return next(w for w in self.argv if "://" in w)

    @property
    def method(self) -> str:
        words = self.argv
        for flag in ("-X", "--request"):
            if flag in words:
                return words[words.index(flag) + 1].upper()
        return "POST" if any(w in ("-d", "--data", "--data-raw") for w in words) else "GET"

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def credentials(self) -> tuple[str, str] | None:
        words = self.argv
        for flag in ("-u", "--user"):
            if flag in words:
                user, _, password = words[words.index(flag) + 1].partition(":")
                return user, password
        return None


def split_pipeline(command: str) -> list[str]:
    """`a | b | c` -> [a, b, c], respecting quotes; `|| ...` and redirections end the curl part."""
    stages, current, quote = [], [], ""
    i = 0
    while i < len(command):
        char = command[i]
        if quote:
            current.append(char)
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            current.append(char)
        elif char == "|" and command[i : i + 2] == "||":
            break  # the fallback of `curl ... || echo ...` is not part of the contract
        elif char == "|":
            stages.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        i += 1
    stages.append("".join(current).strip())
    stages[0] = re.sub(r"\s+2>/dev/null\s*$", "", stages[0])
    return [s for s in stages if s]


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, command) for every shell line inside fenced code blocks."""
    out: list[tuple[int, str]] = []
    in_block = False
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if FENCE.match(raw):
            in_block = not in_block
            pending = []
            continue
        if not in_block:
            continue
        if not pending:
            if not raw.strip() or raw.strip().startswith("#"):
                continue
            start = number
        pending.append(raw.rstrip())
        joined = "\n".join(pending)
        if joined.endswith("\\"):
            continue
        try:
            shlex.split(joined)
        except ValueError:
            continue  # a quote opened on this line closes on a later one
        out.append((start, _unbackslash(joined)))
        pending = []
    return out


def _unbackslash(joined: str) -> str:
    return re.sub(r"\\\n\s*", " ", joined)


def curl_cases() -> list[CurlCase]:
    cases = []
    for name in CONTRACT_FILES:
        text = (RUNBOOKS / name).read_text(encoding="utf-8")
        for line, command in logical_lines(text):
            if re.search(r"(^|\s)curl\s", command):
                cases.append(CurlCase(name, line, command))
    return cases


def expected_block_after(file: str, marker: str) -> str:
    """The first fenced block after a marker line (the manual's "Expected Response")."""
    text = (RUNBOOKS / file).read_text(encoding="utf-8")
    after = text[text.index(marker) :]
    block = re.search(r"```[a-z]*\n(.*?)```", after, re.S)
    assert block is not None, f"no code block after {marker!r} in {file}"
    return block.group(1)


def rewrite(command: str, hosts: dict[str, str]) -> str:
    """The same command with its hosts changed to the local ones (nothing else touched)."""
    for old, new in hosts.items():
        command = command.replace(old, new)
    return command
