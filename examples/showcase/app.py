"""The showcase: a small notes product built only from junco's public API.

Run it with ``python -m examples.showcase`` (http://127.0.0.1:5000), or with
several workers sharing Redis::

    JUNCO_REDIS_URL=redis://127.0.0.1:6379/0 JUNCO_SECRET_KEY=... \\
        junco run examples.showcase.app:app --workers 2

``create_app(config)`` builds a fresh, independent app (the tests make one
each); ``app`` is the one the servers run, configured from the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from junco import Junco, StaticFiles, Templates
from junco.pubsub import Broadcast
from junco.security.login import Login
from junco.security.stack import Stack, secure_stack

from . import accounts, admin, notes, pages, realtime
from .api import create_api
from .config import Config, is_random_key
from .repository import User, make_repository
from .services import Services
from .tour import create_tour

HERE = Path(__file__).resolve().parent
MiB = 1024 * 1024
#: The policy every page gets; junco adds the request's nonce to script-src.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'; base-uri 'none'"
)


def create_app(config: Config | None = None) -> Junco:
    """Build the showcase app.

    Args:
        config: The settings; ``Config.from_env()`` when omitted.
    """
    config = config or Config.from_env()
    # Room for a note's text and its attachments; anything bigger is a 413.
    body_limit = config.max_attachments * config.max_attachment + MiB
    app = Junco(debug=config.debug, max_content_length=body_limit)
    if is_random_key(config.secret_key):
        # junco run's banner warns: sessions will not survive a restart.
        app.state["junco.random_secret_key"] = True
    stack = _security(app, config)
    broadcast = Broadcast(config.redis_url or "memory")
    broadcast.init_app(app)
    repo = make_repository(config.redis_url)
    app.on_shutdown(repo.close)
    login = Login("/login")
    login.init_app(app)  # so that app.check() sees the login and its rate limit

    @login.user_loader
    async def load_user(user_id: Any) -> User | None:
        return await repo.get_user(user_id) if isinstance(user_id, str) else None

    # error.html: the page junco's error renderer shows browsers (404, 413, 429, ...).
    Templates(app, template_dir=HERE / "templates", error_template="error.html")
    # Attached as routes (not mounted), so security headers apply to the files too.
    StaticFiles(HERE / "static", max_age=3600).attach(app)
    # Ids in URLs are exactly what new_id() makes: nothing else reaches a handler.
    app.register_type("id", "[0-9a-f]{16}")
    if stack.limiter is None:  # secure_stack makes one when it is given rate limits
        raise RuntimeError("the showcase needs a rate limiter")
    services = Services(config, repo, broadcast, login, stack.csrf, stack.limiter, stack.audit)
    pages.register(app, services)
    accounts.register(app, services)
    notes.register(app, services)
    realtime.register(app, services)
    admin.register(app, services)
    app.mount(create_tour(), url_prefix="/tour", local=True)
    # The typed JSON API with bearer tokens; its docs are /api/v1/docs.
    app.mount(create_api(services), url_prefix="/api/v1", local=True)
    return app


def _security(app: Junco, config: Config) -> Stack:
    """The whole secure stack, with every store in Redis when it is configured.

    Without Redis: signed-cookie sessions (junco's default: anonymous visitors,
    who get a CSRF secret when a form is rendered, cost the server no memory)
    and counters in memory. With it, both take the URL itself.
    """
    stack = secure_stack(
        app,
        secret_key=config.secret_key,
        allowed_hosts=config.allowed_hosts,
        csrf_tokens=True,
        # A path rule here; the login form has a route decorator (see accounts.py).
        rate_limits={"/signup": config.login_rate},
        session_store=config.redis_url,
        rate_limit_store=config.redis_url or "memory",
        audit=True,
        content_security_policy=CSP,
    )
    if not config.csrf:
        # The tests' control experiment: the same app with no route checked.
        stack.csrf.protect_all = False
    return stack


app = create_app()
