"""The showcase's settings, read from the environment by ``Config.from_env()``.

Variables:

- ``JUNCO_SECRET_KEY``: signs sessions, CSRF tokens and remember-me cookies.
  Without it a random key is drawn at start-up, so sessions do not survive a
  restart; with ``JUNCO_REDIS_URL`` it is required, since every worker must
  sign with the same key.
- ``JUNCO_REDIS_URL``: ``redis://host:port/db`` (junco's own variable for
  moving every store to Redis, read with ``junco.stores.redis_url_from_env``).
  Sessions, rate-limit counters, pub/sub, users, notes and attachments then
  all live in Redis, so several workers (or machines) serve one site.
- ``JUNCO_ALLOWED_HOSTS``: comma-separated host names the site answers to
  (default ``127.0.0.1,localhost``).
- ``SHOWCASE_ADMINS``: comma-separated user names who may read the audit
  trail at ``/admin/audit`` (default: nobody).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from junco import ConfigurationError
from junco.stores import redis_url_from_env

MiB = 1024 * 1024
_DRAWN: set[str] = set()  # keys drawn at random here (not chosen by whoever runs it)


def _random_key() -> str:
    key = secrets.token_urlsafe(32)
    _DRAWN.add(key)
    return key


def is_random_key(key: str) -> bool:
    """Whether ``key`` was drawn at start-up (sessions then end with the process)."""
    return key in _DRAWN


@dataclass(frozen=True)
class Config:
    """Everything ``create_app`` needs to know.

    Attributes:
        secret_key: At least 32 bytes; signs cookies and tokens.
        redis_url: Keep all shared state in this Redis (``None``: in memory).
        allowed_hosts: Host names the site answers to.
        csrf: Install CSRF protection. Only the browser tests turn it off, to
            show that their cross-site attack works against an unprotected app.
        login_rate: How many failed logins (and sign-ups, failed or not) one
            client IP may make, as a rate string (``"5/minute"``).
        max_title: Longest note title, in characters.
        max_body: Longest note text, in characters.
        max_attachment: Largest attachment, in bytes.
        max_attachments: Most attachments on one note.
        max_notes: Most notes one user may keep.
        debug: Tracebacks in error pages. Never in production.
        admins: User names (lower case) who may read the audit trail page.
    """

    secret_key: str = field(default_factory=lambda: _random_key(), repr=False)
    redis_url: str | None = None
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
    csrf: bool = True
    login_rate: str = "5/minute"
    max_title: int = 200
    max_body: int = 20_000
    max_attachment: int = 2 * MiB
    max_attachments: int = 5
    max_notes: int = 500
    debug: bool = False
    admins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Config:
        """Settings from environment variables (see the module docstring).

        Raises:
            ConfigurationError: Redis is configured without a shared secret key,
                or ``JUNCO_REDIS_URL`` is not a Redis URL.
        """
        redis_url = redis_url_from_env(environ)
        secret = environ.get("JUNCO_SECRET_KEY") or None
        if redis_url and not secret:
            raise ConfigurationError(
                "JUNCO_REDIS_URL is set but JUNCO_SECRET_KEY is not: every worker must "
                "sign with the same key; export JUNCO_SECRET_KEY=$(python -c "
                '"import secrets; print(secrets.token_urlsafe(32))")'
            )
        options: dict[str, Any] = {"redis_url": redis_url}
        if secret:
            options["secret_key"] = secret
        hosts = environ.get("JUNCO_ALLOWED_HOSTS", "")
        if hosts.strip():
            options["allowed_hosts"] = tuple(h.strip() for h in hosts.split(",") if h.strip())
        admins = environ.get("SHOWCASE_ADMINS", "")
        options["admins"] = tuple(a.strip().lower() for a in admins.split(",") if a.strip())
        return cls(**options)
