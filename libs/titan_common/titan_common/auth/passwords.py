"""Passwords: argon2 hashes, the policy a new one must meet, and the PAPER default."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# Printed by `titan up` in PAPER mode; LIVE refuses to start while any account still uses it.
DEFAULT_ADMIN_USERNAME = "admin"
DEFAULT_ADMIN_PASSWORD = "password"  # noqa: S105 - the documented PAPER default, refused in LIVE
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()


def check_password_policy(password: str) -> None:
    """Raises ValueError when a new password is too weak to store."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password_off_loop(password_hash: str, password: str) -> bool:
    """verify_password in a worker thread: argon2 takes ~0.1 s of CPU by design."""
    return await asyncio.to_thread(verify_password, password_hash, password)
