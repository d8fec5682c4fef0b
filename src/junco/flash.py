"""Flash messages: a note for the next page the user sees, shown once.

::

    @app.post("/notes")
    async def create(request):
        ...
        flash(request, "Note saved")
        return redirect(app.url_for("list_notes"))

and in the template of the next page (escaped like any value)::

    {% for category, message in get_flashed_messages(with_categories=True) %}
      <p class="flash {{ category }}">{{ message }}</p>
    {% endfor %}

Messages live in the session (a :class:`~junco.security.sessions.Session` must be
installed), under ``_flashes``; reading them removes them. At most
:data:`MAX_MESSAGES` are kept, the oldest dropped first, so a loop that
flashes without redirecting cannot grow a session without bound.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .request import current_request

if TYPE_CHECKING:
    from .request import Request

SESSION_KEY = "_flashes"
MAX_MESSAGES = 20


def flash(request: Request, message: str, category: str = "message") -> None:
    """Keep ``message`` for the next page that shows flashed messages.

    Args:
        request: The current request (its session holds the message).
        message: Plain text; templates escape it.
        category: A label such as ``"error"`` or ``"success"``, for styling.

    Raises:
        RuntimeError: no ``Session`` is installed.
    """
    session = _session(request)
    kept = [m for m in session.get(SESSION_KEY, ()) if _valid(m)]
    kept.append([str(category), str(message)])
    session[SESSION_KEY] = kept[-MAX_MESSAGES:]


def get_flashed_messages(
    with_categories: bool = False,
    category_filter: tuple[str, ...] | list[str] = (),
    request: Request | None = None,
) -> list[Any]:
    """The flashed messages, oldest first, removed from the session.

    Args:
        with_categories: Return ``(category, message)`` pairs instead of messages.
        category_filter: Only these categories (the others stay for later).
        request: The request; the current one when omitted (as in templates).
    """
    request = request or current_request()
    session = _session(request)
    if SESSION_KEY not in session:  # reading is free: no session write
        return []
    stored = [m for m in session.get(SESSION_KEY, ()) if _valid(m)]
    chosen = [m for m in stored if not category_filter or m[0] in category_filter]
    left = [m for m in stored if m not in chosen]
    if left:
        session[SESSION_KEY] = left
    else:
        del session[SESSION_KEY]
    return [(c, m) for c, m in chosen] if with_categories else [m for _, m in chosen]


def _valid(item: Any) -> bool:
    # The session may hold anything (an old format, a tampered server record).
    return (
        isinstance(item, list | tuple) and len(item) == 2 and all(isinstance(x, str) for x in item)
    )


def _session(request: Request) -> Any:
    from .security.sessions import get_session

    try:
        return get_session(request)
    except RuntimeError:
        message = "flash messages live in the session: install Session(app, ...)"
        raise RuntimeError(message) from None


__all__ = ["MAX_MESSAGES", "SESSION_KEY", "flash", "get_flashed_messages"]
