"""The console's refusals. The api layer turns them into the one error shape
{"error": {"status", "code", "message", "details"?}}."""

from __future__ import annotations

from typing import Any


class ConsoleError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
