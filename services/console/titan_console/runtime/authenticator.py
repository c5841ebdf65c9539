"""The console's logins and browser sessions: HTTP Basic (curl, nginx), a session cookie
(the browser), or nobody (loopback reads). Passwords are argon2 hashes in `users`
(titan_common.auth.passwords); sessions live in `console_sessions`, which stores only the
SHA-256 of each token (titan_common.auth.tokens).

argon2 takes ~100 ms by design, so checks run in a thread pool, and a correct Basic
password is remembered for `auth_cache_ttl_s` under a keyed hash (never the password
itself). Failed attempts are throttled per user+address and per address.

When Postgres is down, an operator this console has verified once in its lifetime is checked
against the argon2 hash (and role) it read then, and a browser session it has seen stays
valid until it expires: enough to flatten during an outage. Nobody else gets in.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from titan_common.auth.accounts import enabled_user
from titan_common.auth.passwords import verify_password_off_loop
from titan_common.auth.roles import Role
from titan_common.auth.tokens import new_csrf_token, new_session_token, token_hash
from titan_common.clock import now_ms
from titan_common.db.models import ConsoleSession, User
from titan_common.service import ServiceRuntime
from titan_console.core.throttle import LoginThrottle
from titan_console.runtime import metrics
from titan_console.settings import ConsoleSettings

log = logging.getLogger(__name__)

LOCAL_VIEWER = "local-viewer"


@dataclass(frozen=True)
class Principal:
    username: str
    role: Role
    via: str  # "basic" | "session" | "local"
    csrf_token: str | None = None
    session_hash: str | None = None


class AuthFailed(Exception):
    """Credentials were given and are wrong (401), or the caller is throttled (429)."""

    def __init__(self, status: int, code: str, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after_s = retry_after_s


class Authenticator:
    def __init__(self, runtime: ServiceRuntime, settings: ConsoleSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.throttle_user = LoginThrottle(
            max_failures=settings.login_max_failures,
            window_ms=settings.login_window_s * 1000,
            lock_ms=settings.login_lock_s * 1000,
            max_lock_ms=settings.login_max_lock_s * 1000,
        )
        self.throttle_address = LoginThrottle(
            max_failures=settings.login_address_max_failures,
            window_ms=settings.login_window_s * 1000,
            lock_ms=settings.login_lock_s * 1000,
            max_lock_ms=settings.login_max_lock_s * 1000,
        )
        self._cache_key = secrets.token_bytes(32)
        self._verified: dict[str, tuple[str, Role, int]] = {}
        # for a Postgres outage: each verified user's stored hash and role, each seen session
        self._known_users: dict[str, tuple[str, Role]] = {}
        self._known_sessions: dict[str, tuple[Principal, int]] = {}
        self.failed_total = 0

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession] | None:
        return self.runtime.sessions  # set once the runtime has connected

    # --- passwords ---------------------------------------------------------------------

    def _throttled(self, username: str, address: str) -> None:
        now = now_ms()
        wait = max(
            self.throttle_user.retry_after_ms(f"{username}|{address}", now),
            self.throttle_address.retry_after_ms(address, now),
        )
        if wait > 0:
            seconds = max(1, -(-wait // 1000))
            raise AuthFailed(429, "TOO_MANY_ATTEMPTS", f"too many failed logins; retry in {seconds} s", seconds)

    async def check_password(self, username: str, password: str, address: str) -> Principal:
        """The user behind a username and password, or AuthFailed."""
        self._throttled(username, address)
        key = hmac.new(self._cache_key, f"{username}\0{password}".encode(), hashlib.sha256).hexdigest()
        cached = self._verified.get(key)
        if cached is not None and cached[2] > now_ms():
            return Principal(username=cached[0], role=cached[1], via="basic")
        try:
            user = await self._user(username)
        except AuthFailed as exc:
            if exc.status != 503 or username not in self._known_users:
                raise
            return await self._check_from_memory(username, password, address)
        ok = user is not None and await verify_password_off_loop(user.password_hash, password)
        if not ok or user is None:
            now = now_ms()
            self.throttle_user.failure(f"{username}|{address}", now)
            self.throttle_address.failure(address, now)
            self.failed_total += 1
            metrics.LOGIN_FAILURES.inc()
            log.warning("failed login for %r from %s", username[:64], address)
            raise AuthFailed(401, "UNAUTHORIZED", "wrong username or password")
        self.throttle_user.success(f"{username}|{address}")
        role = Role(user.role)
        self._known_users[user.username] = (user.password_hash, role)
        if self.settings.auth_cache_ttl_s > 0:
            self._verified[key] = (user.username, role, now_ms() + int(self.settings.auth_cache_ttl_s * 1000))
        return Principal(username=user.username, role=role, via="basic")

    async def _check_from_memory(self, username: str, password: str, address: str) -> Principal:
        password_hash, role = self._known_users[username]
        if not await verify_password_off_loop(password_hash, password):
            self.throttle_user.failure(f"{username}|{address}", now_ms())
            self.failed_total += 1
            metrics.LOGIN_FAILURES.inc()
            raise AuthFailed(401, "UNAUTHORIZED", "wrong username or password")
        log.warning("Postgres unreachable: %r verified against the hash this console read earlier", username[:64])
        return Principal(username=username, role=role, via="basic")

    async def _user(self, username: str) -> User | None:
        if self.sessions is None:
            raise AuthFailed(503, "DB_UNAVAILABLE", "the user store is not reachable")
        try:
            async with self.sessions() as session:
                return await enabled_user(session, username)
        except (OSError, SQLAlchemyError) as exc:
            raise AuthFailed(503, "DB_UNAVAILABLE", "the user store is not reachable") from exc

    # --- sessions ----------------------------------------------------------------------

    async def open_session(self, principal: Principal) -> tuple[str, Principal]:
        """A new browser session for an already verified user: (cookie token, principal)."""
        assert self.sessions is not None
        token = new_session_token()
        csrf = new_csrf_token()
        now = now_ms()
        async with self.sessions() as session, session.begin():
            session.add(
                ConsoleSession(
                    token_hash=token_hash(token),
                    username=principal.username,
                    csrf_token=csrf,
                    created_ms=now,
                    expires_ms=now + self.settings.session_ttl_s * 1000,
                    last_seen_ms=now,
                )
            )
        digest = token_hash(token)
        opened = Principal(principal.username, principal.role, "session", csrf_token=csrf, session_hash=digest)
        self._known_sessions[digest] = (opened, now + self.settings.session_ttl_s * 1000)
        return token, opened

    async def from_session(self, token: str) -> Principal | None:
        """The user of a live session; None for an unknown, expired or revoked one, or a
        user who was disabled since (the role is read fresh on every request)."""
        if self.sessions is None or not token:
            return None
        digest = token_hash(token)
        now = now_ms()
        try:
            return await self._session_from_db(digest, now)
        except (OSError, SQLAlchemyError):
            known = self._known_sessions.get(digest)
            if known is None or known[1] <= now:
                raise
            log.warning("Postgres unreachable: session of %r taken from memory", known[0].username)
            return known[0]

    async def _session_from_db(self, digest: str, now: int) -> Principal | None:
        assert self.sessions is not None
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(ConsoleSession, User)
                    .join(User, User.username == ConsoleSession.username)
                    .where(
                        ConsoleSession.token_hash == digest,
                        ConsoleSession.revoked_ms.is_(None),
                        ConsoleSession.expires_ms > now,
                        User.disabled.is_(False),
                    )
                )
            ).first()
        if row is None:
            self._known_sessions.pop(digest, None)
            return None
        stored, user = row
        principal = Principal(
            user.username, Role(user.role), "session", csrf_token=stored.csrf_token, session_hash=digest
        )
        self._known_sessions[digest] = (principal, stored.expires_ms)
        return principal

    async def close_session(self, session_hash: str) -> None:
        assert self.sessions is not None
        self._known_sessions.pop(session_hash, None)
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(ConsoleSession).where(ConsoleSession.token_hash == session_hash).values(revoked_ms=now_ms())
            )

    def prune(self) -> None:
        now = now_ms()
        self.throttle_user.prune(now)
        self.throttle_address.prune(now)
        for key in [k for k, v in self._verified.items() if v[2] <= now]:
            del self._verified[key]
        for digest in [d for d, (_p, expires) in self._known_sessions.items() if expires <= now]:
            del self._known_sessions[digest]
