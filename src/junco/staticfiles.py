"""Static files: one directory served under a URL prefix, with no way out of it.

Two ways to use it::

    static = StaticFiles("public")
    static.attach(app)                      # routes /static/ and /static/<path:path>
    app.mount(StaticFiles("public"), url_prefix="/static")   # a plain ASGI app

``attach`` (or ``app.route('/static/<path:path>')(static.handler)``) makes the
files ordinary routes, so the app's hooks (security headers, CORS, rate
limits, ...) and its 404 handler apply. Mounted as an ASGI app, the hooks of
the parent app do not run: only this module's own headers are sent.

A path with a ``.`` or ``..`` segment (plain or encoded), ``//``, a
backslash, an encoded ``/`` or a control character never gets here: the app
refuses it with 400 before routing (:mod:`junco.paths`). Past that, a request
is refused with the same 404 whether or not the target exists when its path
has a ``.``-prefixed (hidden) segment or a colon (``C:``); when the file
resolves outside the directory through a symbolic link (unless
``follow_symlinks``); or when it is not a readable regular file. Files are
sent by :class:`~junco.files.FileResponse` (ETag, 304, ranges, HEAD).
"""

from __future__ import annotations

import asyncio
import os
import stat
from typing import TYPE_CHECKING

from .exceptions import ConfigurationError, HTTPException
from .files import FileResponse
from .paths import app_path, normalize_path, safe_join, slash_redirect, url_segments
from .response import Response
from .types import Receive, Scope, Send

if TYPE_CHECKING:
    from .app import Junco
    from .request import Request

_REDIRECT = "redirect"
Found = tuple[str, os.stat_result]


class StaticFiles:
    """Serve the files below ``directory``.

    Args:
        directory: The directory to serve; it must exist.
        prefix: The URL prefix :meth:`attach` registers routes under. An
            ASGI mount uses its own ``url_prefix`` instead.
        index: File served for a directory URL ending in ``/`` (a directory
            URL without the slash is redirected to it); ``None`` serves no directory.
        not_found_page: A file (relative to ``directory``, or absolute) sent
            with status 404 instead of the app's 404 response.
        follow_symlinks: ``False`` (the default) serves a symbolic link only
            if its target lies inside ``directory``; ``True`` follows links anywhere.
        max_age: ``Cache-Control: max-age`` for the files, in seconds.

    Raises:
        ConfigurationError: ``directory`` is not a directory, or ``index`` is
            not a plain file name.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        prefix: str = "/static",
        index: str | None = "index.html",
        not_found_page: str | os.PathLike[str] | None = None,
        follow_symlinks: bool = False,
        max_age: int | None = None,
    ) -> None:
        root = os.path.realpath(os.fspath(directory))
        if not os.path.isdir(root):
            raise ConfigurationError(f"static directory {os.fspath(directory)!r} does not exist")
        if index is not None and (url_segments(index) != [index] or index.startswith(".")):
            raise ConfigurationError(f"index must be a plain file name, not {index!r}")
        prefix = normalize_path(prefix)
        self.directory = root
        self.prefix = "" if prefix == "/" else prefix
        self.index = index
        self.not_found_page = (
            None if not_found_page is None else os.path.join(root, os.fspath(not_found_page))
        )
        self.follow_symlinks = follow_symlinks
        self.max_age = max_age
        self._app: Junco | None = None

    # -- as routes -----------------------------------------------------------------------

    def attach(self, app: Junco) -> None:
        """Serve the files as routes of ``app`` under :attr:`prefix` (GET and HEAD)."""
        app.add_route(self.prefix + "/", self.handler)
        app.add_route(self.prefix + "/<path:path>", self.handler)

    async def handler(self, request: Request, path: str = "") -> Response:
        """A route handler: ``app.route('/static/<path:path>')(static.handler)``.

        Args:
            request: The request.
            path: The file's path below the directory (the ``<path:path>`` argument).

        Raises:
            HTTPException: 404 when there is no such file (and no ``not_found_page``);
                405 for methods other than GET and HEAD.
        """
        return await self.serve(request, path, request.root_path + request.path)

    # -- as an ASGI app ------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            self._app = self._asgi_app()
        await self._app(scope, receive, send)

    def _asgi_app(self) -> Junco:
        from .app import Junco

        app = Junco()

        async def mounted(request: Request, path: str = "") -> Response:
            scope = request.asgi_scope
            root: str = scope.get("root_path", "")
            rel = app_path(scope)
            if rel == "/" and not scope["path"].endswith("/"):
                rel = ""  # the mount point itself: redirected to its "/" form
            return await self.serve(request, rel, root + rel)

        app.add_route("/", mounted)
        app.add_route("/<path:path>", mounted)
        return app

    # -- serving -------------------------------------------------------------------------

    async def serve(self, request: Request, relative: str, url_path: str) -> Response:
        """The response for ``relative`` (a decoded path below the directory).

        Args:
            request: The request (its method is checked; its query string is kept
                by the directory redirect).
            relative: The path below the directory, as the router decoded it.
            url_path: The full URL path asked for (``root_path`` included), to
                build a directory redirect (:func:`junco.paths.slash_redirect`).

        Raises:
            HTTPException: 404 or 405, see :meth:`handler`.
        """
        if request.method != "GET" and request.method != "HEAD":
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        segments = url_segments(relative)
        if segments is None or any(s.startswith(".") for s in segments):
            return await self._not_found()
        found = await asyncio.to_thread(self._lookup, segments, url_path.endswith("/"))
        if found == _REDIRECT:
            return slash_redirect(request, url_path + "/")
        if found is None or isinstance(found, str):
            return await self._not_found()
        path, st = found
        response = FileResponse(
            path, stat_result=st, max_age=self.max_age, follow_symlinks=self.follow_symlinks
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def _lookup(self, segments: list[str], dir_url: bool) -> Found | str | None:
        """Find the file to send (blocking: runs in a worker thread)."""
        candidate = safe_join(self.directory, "/".join(segments))
        found = None if candidate is None else self._resolve(os.fspath(candidate))
        if found is None:
            return None
        path, st = found
        if stat.S_ISDIR(st.st_mode):
            if self.index is None:
                return None
            index = self._resolve(os.path.join(path, self.index))
            if index is None or not stat.S_ISREG(index[1].st_mode):
                return None
            return index if dir_url else _REDIRECT
        if dir_url or not stat.S_ISREG(st.st_mode):
            return None
        return found

    def _resolve(self, candidate: str) -> Found | None:
        """The path to open and its stat, if it exists, is readable and stays inside."""
        if not self.follow_symlinks:
            real = os.path.realpath(candidate)
            if real != self.directory:
                if os.path.commonpath([real, self.directory]) != self.directory:
                    return None
                # A link inside the directory must not reach a hidden file either.
                inner = os.path.relpath(real, self.directory).split(os.sep)
                if any(part.startswith(".") for part in inner):
                    return None
            candidate = real
        try:
            st = os.stat(candidate)
        except (OSError, ValueError):
            return None
        if stat.S_ISREG(st.st_mode) and not os.access(candidate, os.R_OK):
            return None
        return candidate, st

    async def _not_found(self) -> Response:
        page = self.not_found_page
        if page is not None:
            st = await asyncio.to_thread(_stat_file, page)
            if st is not None:
                response = FileResponse(page, 404, stat_result=st)
                response.headers["Cache-Control"] = "no-cache"
                response.headers["X-Content-Type-Options"] = "nosniff"
                return response
        raise HTTPException(404)


def _stat_file(path: str) -> os.stat_result | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st if stat.S_ISREG(st.st_mode) else None


__all__ = ["StaticFiles"]
