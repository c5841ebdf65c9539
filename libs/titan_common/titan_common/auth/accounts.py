"""Operator accounts in the `users` table: adding one, finding an enabled one, the PAPER
bootstrap admin, and the accounts still on the default password."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from titan_common.auth.passwords import (
    DEFAULT_ADMIN_PASSWORD,
    DEFAULT_ADMIN_USERNAME,
    check_password_policy,
    hash_password,
    verify_password,
)
from titan_common.auth.roles import Role
from titan_common.clock import now_ms
from titan_common.db.models import User


class UserExists(Exception):
    pass


async def add_user(session: AsyncSession, username: str, password: str, role: Role) -> User:
    check_password_policy(password)
    existing = await session.scalar(select(User).where(User.username == username))
    if existing is not None:
        raise UserExists(username)
    user = User(username=username, password_hash=hash_password(password), role=role.value, created_ms=now_ms())
    session.add(user)
    await session.flush()
    return user


async def enabled_user(session: AsyncSession, username: str) -> User | None:
    """The account that may log in under this name; None when absent or disabled."""
    user: User | None = await session.scalar(select(User).where(User.username == username, User.disabled.is_(False)))
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
