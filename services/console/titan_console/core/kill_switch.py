"""The kill switch: its confirmation codes and the fixed order of its steps. Pure.

Confirmation scheme: the console issues a short code per attempt and the caller echoes
it back. A code belongs to the user it was issued to, expires after `ttl_ms` and works
once. A first call without a code gets one; a second call with it runs the switch. So a
stray click or a replayed request cannot fire it, and no shared secret has to be
distributed to operators (see docs/decisions-console.md).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

# The order is the architecture's: flatten, cancel every order, disarm, pause the
# scavenger, then the whole system to PAUSE with KILL_SWITCH.
STEPS = ("flatten", "cancel_all", "disarm", "pause_scavenger", "pause_system")

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def format_code(random_bytes: bytes) -> str:
    """Eight characters from the alphabet, shown as XXXX-XXXX."""
    chars = "".join(CODE_ALPHABET[b % len(CODE_ALPHABET)] for b in random_bytes[:8])
    if len(chars) < 8:
        raise ValueError("need 8 random bytes")
    return f"{chars[:4]}-{chars[4:]}"


def canonical(code: str) -> str:
    return code.strip().upper().replace(" ", "").replace("-", "")


@dataclass(frozen=True)
class Challenge:
    username: str
    code: str
    expires_ms: int


class ChallengeBook:
    """Outstanding codes, at most one per user (a new request replaces the old one)."""

    def __init__(self, ttl_ms: int = 120_000) -> None:
        self.ttl_ms = ttl_ms
        self._by_user: dict[str, Challenge] = {}

    def issue(self, username: str, code: str, now_ms: int) -> Challenge:
        challenge = Challenge(username=username, code=code, expires_ms=now_ms + self.ttl_ms)
        self._by_user[username] = challenge
        return challenge

    def redeem(self, username: str, code: str, now_ms: int) -> bool:
        """True (and the code is used up) when it is this user's live code."""
        challenge = self._by_user.get(username)
        if challenge is None:
            return False
        if now_ms > challenge.expires_ms:
            del self._by_user[username]
            return False
        if not hmac.compare_digest(canonical(challenge.code).encode(), canonical(code).encode()):
            return False
        del self._by_user[username]
        return True


def outcome(steps: list[dict[str, object]]) -> bool:
    """The switch succeeded when every step did."""
    return bool(steps) and all(step.get("success") is True for step in steps)
