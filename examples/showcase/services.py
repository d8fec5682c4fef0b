"""What every part of the showcase shares: settings, storage, pub/sub and the login manager."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from junco import Request, Response, Templates, abort

from .config import Config
from .repository import Repository, User

if TYPE_CHECKING:
    from junco.pubsub import Broadcast
    from junco.security.audit import Audit
    from junco.security.csrf import CSRF
    from junco.security.login import Login
    from junco.security.ratelimit import RateLimit

#: User names: what a URL, a log line and a chat message can show as they are.
USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
MIN_USERNAME, MAX_USERNAME = 3, 32
#: Long enough to matter, short enough that hashing cannot be abused.
MIN_PASSWORD, MAX_PASSWORD = 8, 256


@dataclass(frozen=True)
class Services:
    """The shared objects the views are registered with.

    Attributes:
        config: The settings.
        repo: Users, notes and attachments.
        broadcast: junco's pub/sub (``memory://`` or ``redis://``).
        login: junco's login manager.
        csrf: junco's CSRF extension.
        limiter: junco's rate limiter.
        audit: junco's audit trail (its recent records feed the admin page).
    """

    config: Config
    repo: Repository
    broadcast: Broadcast
    login: Login
    csrf: CSRF
    limiter: RateLimit
    audit: Audit

    async def render(
        self, request: Request, name: str, status_code: int = 200, **context: Any
    ) -> Response:
        """Render a page of ``templates/`` for ``request``, with ``current_user`` set.

        Rendering runs in a worker thread; ``csp_nonce()`` and ``csrf_field()``
        still see the request (the thread gets a copy of the request context).
        """
        context.setdefault("current_user", await self.login.get_current_user(request))
        template = Templates.of(request.app).get_template(name)
        return await template.response_async(status_code=status_code, **context)


def current_user(request: Request) -> User:
    """The logged-in user of a route guarded by ``@login`` (set by junco's ``Login``).

    Raises:
        HTTPException: 401 if the route is not guarded (a programming error).
    """
    user = request.g.get("current_user")
    if not isinstance(user, User):
        abort(401)
    return user


def clean_username(raw: str | None) -> str | None:
    """The user name in canonical (lower-case) form, or None if it is not acceptable."""
    if not isinstance(raw, str):
        return None
    name = raw.strip().lower()
    if not (MIN_USERNAME <= len(name) <= MAX_USERNAME) or not set(name) <= USERNAME_CHARS:
        return None
    return name


def feed_channel(user_id: str) -> str:
    """The pub/sub channel of one user's activity feed."""
    return f"feed:{user_id}"


CHAT_CHANNEL = "chat:lobby"
