"""``url_for``: the URL of a route, from its name and arguments.

A route's name is its handler's ``__name__`` unless ``name=`` was given
(``@app.get("/notes/<id>", name="note")``). URLs are built from the route
patterns, so they follow mounts (the sub-app's prefix is added) and the
ASGI ``root_path`` of the current request (a proxy's path prefix)::

    app.url_for("show_note", note_id="3f0c")      # "/notes/3f0c"
    app.url_for("list_notes", page=2)            # "/notes?page=2" (extra args: query)

In templates: ``{{ url_for("show_note", note_id=note.id) }}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlencode

from .request import _current

if TYPE_CHECKING:
    from .app import Junco
    from .routing import Route

_ARG = re.compile(r"<([^<>]+)>")


class BuildError(LookupError):
    """No route has that name, or the arguments do not fit its pattern."""


def route_name(route: Route) -> str:
    """The name ``url_for`` knows ``route`` by."""
    names: Mapping[int, str] = getattr(route.app, "route_names", {})
    name = names.get(id(route))
    if name is None:
        name = getattr(route.handler, "__name__", "")
    return name


def _routes(app: Junco) -> Iterator[tuple[str, Route]]:
    return app.router.iter_routes()  # type: ignore[return-value]


def url_for(app: Junco, name: str, /, **params: Any) -> str:
    """The path of the route of ``app`` (or of a mounted sub-app) called ``name``.

    Args:
        app: The app whose routes (and mounted apps' routes) are searched.
        name: The route's name.
        **params: Values for the pattern's arguments; the others become the
            query string (``None`` values are left out).

    Raises:
        BuildError: no such route, a missing argument, or a value that the
            argument's type would not match.
    """
    candidates = [(path, route) for path, route in _routes(app) if route_name(route) == name]
    if not candidates:
        raise BuildError(f"no route named {name!r} (a route's name is its handler's name)")
    problem = ""
    for full, route in candidates:
        try:
            return _root_path() + _build(full, route, params)
        except BuildError as exc:
            problem = str(exc)
    raise BuildError(problem)


def _build(full: str, route: Route, params: Mapping[str, Any]) -> str:
    used = set()
    parts = []
    pos = 0
    for m in _ARG.finditer(full):
        parts.append(full[pos : m.start()])
        spec = m.group(1)
        kind, _, arg = spec.rpartition(":")
        if arg not in params:
            raise BuildError(f"url_for({route_name(route)!r}) needs {arg!r} for {full!r}")
        value = str(params[arg])
        parts.append(quote(value, safe="/" if kind == "path" else ""))
        used.add(arg)
        pos = m.end()
    parts.append(full[pos:])
    path = "".join(parts)
    own = route.pattern.url_pattern
    prefix = full[: len(full) - len(own)]
    # The router matches decoded paths: check the values as it will see them.
    if route.pattern.match(unquote(path[len(prefix) :])) is None:
        raise BuildError(f"the arguments {dict(params)!r} do not fit {full!r}")
    query = {k: v for k, v in params.items() if k not in used and v is not None}
    if query:
        path += "?" + urlencode(query, doseq=True)
    return path


def _root_path() -> str:
    request = _current.get()
    if request is None or request.finished:
        return ""
    return request.root_path


def url_for_current(name: str, /, **params: Any) -> str:
    """``url_for`` on the app handling the current request (the template global).

    Raises:
        RuntimeError: outside a request.
        BuildError: see :func:`url_for`.
    """
    request = _current.get()
    if request is None:
        raise RuntimeError("url_for() in a template needs a request; use app.url_for()")
    return url_for(request.app, name, **params)


__all__ = ["BuildError", "route_name", "url_for", "url_for_current"]
