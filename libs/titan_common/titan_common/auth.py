"""Operator accounts: argon2 password hashes, three roles, and the PAPER bootstrap admin."""

from __future__ import annotations

from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from titan_common.clock import now_ms
from titan_common.db.models import User

# Printed by `titan up` in PAPER mode; LIVE refuses to start while any account still uses it.
DEFAULT_ADMIN_USERNAME = "admin"
DEFAULT_ADMIN_PASSWORD = "password"  # noqa: S105 - the documented PAPER default, refused in LIVE

_hasher = PasswordHasher()


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def at_least(self, other: Role) -> bool:
        order = [Role.VIEWER, Role.OPERATOR, Role.ADMIN]
        return order.index(self) >= order.index(other)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class UserExists(Exception):
    pass


async def add_user(session: AsyncSession, username: str, password: str, role: Role) -> User:
    if len(password) < 8:
        raise ValueError("password must be at least 8 characters")
    existing = await session.scalar(select(User).where(User.username == username))
    if existing is not None:
        raise UserExists(username)
    user = User(username=username, password_hash=hash_password(password), role=role.value, created_ms=now_ms())
    session.add(user)
    await session.flush()
    return user


async def ensure_bootstrap_admin(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Create admin/password when no user exists at all (PAPER only). True if created."""
    async with sessions() as session, session.begin():
        if await session.scalar(select(User.id).limit(1)) is not None:
            return False
        await add_user(session, DEFAULT_ADMIN_USERNAME, DEFAULT_ADMIN_PASSWORD, Role.ADMIN)
        return True


async def users_with_default_password(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    """Accounts whose password is still the documented default; LIVE must refuse to start."""
    async with sessions() as session:
        users = (await session.scalars(select(User).where(User.disabled.is_(False)))).all()
    return [u.username for u in users if verify_password(u.password_hash, DEFAULT_ADMIN_PASSWORD)]
