"""One renderer for every error junco answers itself, negotiated on ``Accept``.

A 404, a 413, a CSRF 403, a 429, an ``HTTPException`` a handler raised, an
unhandled exception: when no error handler of the app answers it, it is
rendered here, in one of three forms:

- a browser (``Accept`` prefers ``text/html``) gets a small self-contained
  HTML page saying what happened and what to do; every piece of text on it
  is escaped, and it carries its own strict ``Content-Security-Policy``
  (its one ``<style>`` allowed by hash, nothing else), which ``SecurityHeaders``
  keeps and ``CSPNonce`` extends;
- an API client (``Accept`` prefers ``application/json`` or ``+json``, or
  the request itself was JSON) gets
  ``{"error": {"status": 403, "code": "csrf_token_missing", "message": "..."}}``
  plus the exception's ``extra`` members;
- anything else (no ``Accept``, ``*/*``, ``text/plain``) gets the message as
  ``text/plain``, as before: :func:`plain_error` is the one place that body is made.

Headers of the exception (``Allow``, ``Retry-After``, ``WWW-Authenticate``)
are kept, and the ``after_error_request`` hooks (security headers, CORS,
request id) run on the result as on any error. A traceback appears only
with ``debug=True``. An app restyles the page with ``app.error_page``
(``Templates(app, error_template="error.html")`` sets it) or replaces the
whole response with ``@app.errorhandler``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import secrets
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .datastructures import Headers, single_header
from .exceptions import HTTPException, default_code, error_text, status_phrase
from .request import CSP_NONCE, REQUEST_ID
from .response import Response, buffered

if TYPE_CHECKING:
    from .request import Request
    from .types import Send

logger = logging.getLogger("junco")
PLAIN = "text/plain; charset=UTF-8"  # as Microdot spells it
JSON = "application/json"
HTML = "text/html; charset=UTF-8"  # spelled like every other junco response
#: What an app may set as ``app.error_page``: the HTML of the page for an error.
ErrorPage = Callable[["Request", "ErrorInfo"], str]

_STYLE = (
    ":root{color-scheme:light dark;--fg:#1d2230;--muted:#5b6272;--bg:#f6f7f9;--card:#fff;"
    "--accent:#b4233c}"
    "@media (prefers-color-scheme:dark){:root{--fg:#e8eaf0;--muted:#a3a9b8;--bg:#15171c;"
    "--card:#1f2229;--accent:#ff7b8e}}"
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;"
    "background:var(--bg);color:var(--fg)}"
    "main{max-width:34rem;margin:12vh auto;padding:2rem 2.25rem;background:var(--card);"
    "border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}"
    ".status{margin:0;font-weight:700;letter-spacing:.08em;color:var(--accent)}"
    "h1{margin:.2rem 0 1rem;font-size:1.6rem;line-height:1.25}"
    ".hint,.meta{color:var(--muted)}.meta{font-size:.875rem;margin-top:1.5rem}"
    "a{color:inherit}code{font-size:.9em}"
    "pre{overflow:auto;font-size:.8rem;background:var(--bg);padding:1rem;border-radius:8px}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
#: The policy of the built-in page: its own style and nothing else.
PAGE_CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
_HTML_TYPES = frozenset(("text/html", "application/xhtml+xml"))
_MAX_ACCEPT_ITEMS = 32
_FORMS: dict[tuple[str | None, str | None], str] = {}  # negotiate's answers
_FORMS_MAX = 256
# route_error's responses by (status, form, Allow[, root path, method]): body and headers.
_ROUTE_ERRORS: dict[tuple[Any, ...], tuple[bytes, Headers, list[tuple[bytes, bytes]]]] = {}
_ROUTE_ERRORS_MAX = 256


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """What an error page shows; the ``error`` of an ``error_template``.

    Attributes:
        status: The HTTP status.
        title: Its reason phrase (``"Not Found"``).
        code: The stable snake_case code (``"not_found"``).
        message: What happened (the exception's reason).
        hint: What the person can do about it.
        extra: The exception's extra members (``errors`` of a 422, ``limit`` of a 413).
        retry_after: Seconds to wait, from ``Retry-After``, when it is a number.
        request_id: The request's id, when ``RequestID`` is installed.
        home: The path of the app's home page (``root_path`` + ``/``).
        traceback: The traceback of a 500, only with ``debug=True``.
    """

    status: int
    title: str
    code: str
    message: str
    hint: str
    extra: Mapping[str, Any] = field(default_factory=dict)
    retry_after: int | None = None
    request_id: str | None = None
    home: str = "/"
    traceback: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The ``{"error": {...}}`` document of the JSON form."""
        body: dict[str, Any] = {**self.extra}
        if self.retry_after is not None:
            body.setdefault("retry_after", self.retry_after)
        if self.traceback is not None:
            body["traceback"] = self.traceback
        body.update(status=self.status, code=self.code, message=self.message)
        return {"error": body}


# -- negotiation ----------------------------------------------------------------------


def negotiate(accept: str | None, content_type: str | None = None) -> str:
    """Pick the form of an error: ``"html"``, ``"json"`` or ``"text"``.

    The explicitly listed type with the highest quality wins (HTML, then
    JSON, then text on a tie); wildcards alone choose nothing, and then a
    JSON request gets JSON and anything else text.

    Args:
        accept: The request's ``Accept`` header.
        content_type: The request's ``Content-Type`` header.
    """
    key = (accept, content_type)
    form = _FORMS.get(key)
    if form is None:
        form = _negotiate(accept, content_type)
        # A few clients send most requests: remember their answers, but not
        # every value a client can make up (bounded in number and size).
        if len(_FORMS) < _FORMS_MAX and len(accept or "") + len(content_type or "") <= 512:
            _FORMS[key] = form
    return form


def _negotiate(accept: str | None, content_type: str | None) -> str:
    html_q = json_q = text_q = 0.0
    if accept:
        for item in accept.split(",", _MAX_ACCEPT_ITEMS)[:_MAX_ACCEPT_ITEMS]:
            media, _, params = item.partition(";")
            media = media.strip().lower()
            if media in _HTML_TYPES:
                html_q = max(html_q, _quality(params))
            elif _is_json(media):
                json_q = max(json_q, _quality(params))
            elif media == "text/plain":
                text_q = max(text_q, _quality(params))
    best = max(html_q, json_q, text_q)
    if best > 0:
        return "html" if html_q == best else "json" if json_q == best else "text"
    if content_type and _is_json(content_type.partition(";")[0].strip().lower()):
        return "json"
    return "text"


def wants_json(request: Request) -> bool:
    """Whether junco answers an error of ``request`` with JSON."""
    headers = request.headers
    return negotiate(headers.get("accept"), headers.get("content-type")) == "json"


def _is_json(media: str) -> bool:
    return media == JSON or (media.startswith("application/") and media.endswith("+json"))


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip()[:5])
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


# -- rendering ------------------------------------------------------------------------


def plain_error(text: str, status: int, headers: Mapping[str, str] | None = None) -> Response:
    """The ``text/plain`` form: ``text`` as the body, whatever the app's default type."""
    # Always text/plain: the text may echo input.
    response = Response(text, status, dict(headers) if headers else None)
    response.headers.setdefault("Content-Type", PLAIN)
    return response


def render_error(
    request: Request, exc: BaseException, debug: bool = False, form: str | None = None
) -> Response:
    """The response for ``exc`` (an ``HTTPException`` or any other error, as a 500).

    Args:
        request: The request that failed.
        exc: The error.
        debug: Show the traceback of a 500.
        form: ``"html"``, ``"json"`` or ``"text"``; negotiated when omitted.
    """
    if isinstance(exc, HTTPException):
        status, message, headers = exc.status_code, exc.reason, exc.headers
        code, extra, tb = exc.code, exc.extra, None
    else:
        status, message, headers = 500, error_text(500), None
        code, extra = default_code(500), None
        tb = "".join(traceback.format_exception(exc)) if debug else None
    if form is None:
        h = request.headers
        form = negotiate(h.get("accept"), h.get("content-type"))
    return _render(request, form, status, message, headers, code, extra, tb)


def bare_error(exc: HTTPException, accept: str | None, content_type: str | None = None) -> Response:
    """An error answered where no request object exists yet, negotiated all the same.

    The WSGI adapter's refusals (a path that is not UTF-8, a body over the
    limit) happen before the app sees the request; they still answer each
    kind of client in its form, with the exception's code, extra members and
    headers. No app error page applies.

    Args:
        exc: The error.
        accept: The request's ``Accept`` header.
        content_type: The request's ``Content-Type`` header.
    """
    form = negotiate(accept, content_type)
    return _render(None, form, exc.status_code, exc.reason, exc.headers, exc.code, exc.extra)


def route_error(
    request: Request, status: int, allow: str | None = None, final: bool = False
) -> Response:
    """The router's 404 (or 405 with ``allow``), as ``render_error`` renders it.

    For the dispatcher's requests that matched no route, when no error
    handler of the app answers them: no exception is raised, and each form
    is rendered once, by :func:`_render`, then copied from a cache (its body
    and headers, a fresh ``Response`` each time, so hooks can change it).
    An HTML page that shows something of the request (a request id, a CSP
    nonce) or the app's own ``error_page`` is rendered every time.

    Args:
        request: The request that matched no route.
        status: 404, or 405 for a path whose routes take other methods.
        allow: The ``Allow`` header of a 405.
        final: Nothing will look at the response before it is sent (no
            ``after_error_request`` hooks): it may go out as encoded headers.
    """
    # Straight from the scope (names are lower-case in ASGI, as the dispatcher's
    # scan reads them); only a repeated Accept needs Headers to pick the first.
    sent = single_header(request.asgi_scope, b"accept")
    if sent is None or sent:
        accept = None if sent is None else sent.decode("latin-1")
    else:
        accept = request.headers.get("accept")
    # That scan noted any Content-Type: most requests that get a 404 have none.
    ctype = None if request._raw_ctype is None else request.headers.get("content-type")
    form = negotiate(accept, ctype)
    if form != "html":
        key: tuple[Any, ...] | None = (status, form, allow)
    elif _custom_page(request) or REQUEST_ID.get(request) is not None or _style_nonce(request):
        key = None
    else:  # the page shows the home page's path, and a 405's the method
        key = (status, form, allow, request.root_path, request.method if allow else "")
    cached = _ROUTE_ERRORS.get(key) if key is not None else None
    if cached is None:
        allow_header = {"Allow": allow} if allow else None
        response = _render(request, form, status, error_text(status), allow_header)
        if key is not None and len(_ROUTE_ERRORS) < _ROUTE_ERRORS_MAX:
            body = response.body
            encoded = response._raw_headers(None, len(body))
            _ROUTE_ERRORS[key] = (body, Headers(response.headers), encoded)
        return response
    body, headers, encoded = cached
    if final:
        return _Encoded(body, status, encoded)
    response = Response(body, status)
    response.headers = headers  # the setter copies
    return response


class _Encoded(Response):
    """A cached error response that nothing looks at before it is sent.

    Only for ``route_error(final=True)``: it goes out as the encoded headers of
    the response it was copied from (its ``headers`` are not filled in).
    """

    def __init__(self, body: bytes, status: int, raw: list[tuple[bytes, bytes]]) -> None:
        self.body = body
        self.status_code = status
        self._raw = raw

    async def send(self, request: Request, send: Send) -> None:
        start, rest = buffered(request.method, self.status_code, list(self._raw), self.body)
        await send(start)
        await send(rest)


def _render(
    request: Request | None,
    form: str,
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    code: str | None = None,
    extra: Mapping[str, Any] | None = None,
    tb: str | None = None,
) -> Response:
    if form == "text":
        response = plain_error(tb or message, status, headers)
    else:
        info = error_info(request, status, message, code, headers, extra, tb)
        if form == "json":
            # A dict: the response's own JSON type and encoding, as for a handler's dict.
            response = Response(info.as_json(), status, headers)
        else:
            response = _page(request, info, headers)
    # The same URL answers each kind of client differently: caches must know.
    response.headers.add_vary("Accept")
    return response


def error_info(
    request: Request | None,
    status: int,
    message: str,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    tb: str | None = None,
) -> ErrorInfo:
    """Gather what the HTML and JSON forms show about an error."""
    retry_after = _retry_after(headers)
    extra = dict(extra or {})
    rid = REQUEST_ID.get(request) if request is not None else None
    return ErrorInfo(
        status=status,
        title=status_phrase(status),
        code=code or default_code(status),
        message=message,
        hint=_hint(status, code, headers, extra, retry_after, request),
        extra=extra,
        retry_after=retry_after,
        request_id=rid if isinstance(rid, str) else None,
        home=(request.root_path if request is not None else "") + "/",
        traceback=tb,
    )


def _page(request: Request | None, info: ErrorInfo, headers: Mapping[str, str] | None) -> Response:
    custom = None if request is None else _custom_page(request)
    page = None
    if custom is not None and request is not None:
        try:
            page = custom(request, info)
        except Exception:
            logger.exception("the app's error page failed; using junco's own")
    if page is not None:
        response = Response(page, info.status, headers)
    else:
        nonce = None if request is None else _style_nonce(request)
        response = Response(html_page(info, nonce), info.status, headers)
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    response.headers["Content-Type"] = HTML
    return response


def _custom_page(request: Request) -> ErrorPage | None:
    for app in (request.subapp, request.app):
        page = getattr(app, "error_page", None)
        if page is not None:
            return page  # type: ignore[no-any-return]
    return None


def _style_nonce(request: Request) -> str | None:
    """The request's CSP nonce, made when a ``CSPNonce`` covers styles."""
    nonce = CSP_NONCE.get(request)
    if nonce is None and any(
        "style-src" in getattr(m, "directives", ()) for m in request.app.middleware
    ):
        nonce = CSP_NONCE.set(request, secrets.token_urlsafe(16))
    return nonce if isinstance(nonce, str) else None


def html_page(info: ErrorInfo, nonce: str | None = None) -> str:
    """The built-in page for ``info``: every piece of text escaped."""
    e = html.escape
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="robots" content="noindex">',
        f"<title>{info.status} {e(info.title)}</title>",
        f'<style nonce="{e(nonce)}">' if nonce else "<style>",
        _STYLE,
        "</style></head><body><main>",
        f'<p class="status">{info.status}</p><h1>{e(info.title)}</h1>',
    ]
    if info.message and info.message.lower() != info.title.lower():
        parts.append(f'<p class="message">{e(info.message)}</p>')
    parts.append(f'<p class="hint">{e(info.hint)}</p>')
    parts.extend(_field_errors(info.extra.get("errors")))
    if info.traceback:
        parts.append(f"<pre>{e(info.traceback)}</pre>")
    meta = f'<a href="{e(info.home)}">Home page</a>'
    if info.request_id:
        meta += f" · reference <code>{e(info.request_id)}</code>"
    parts.append(f'<p class="meta">{meta}</p></main></body></html>')
    return "".join(parts)


def _field_errors(errors: Any) -> list[str]:
    """The ``errors`` of a 422 as a list: ``loc`` and ``msg`` of each, escaped."""
    if not isinstance(errors, list) or not errors:
        return []
    items = []
    for err in errors[:50]:
        if isinstance(err, Mapping):
            loc = err.get("loc", ())
            where = ".".join(str(p) for p in loc) if isinstance(loc, list | tuple) else str(loc)
            text = str(err.get("msg", err.get("message", "")))
        else:
            where, text = "", str(err)
        label = f"<code>{html.escape(where)}</code>: " if where else ""
        items.append(f"<li>{label}{html.escape(text)}</li>")
    return ["<ul>", *items, "</ul>"]


# -- what to do -----------------------------------------------------------------------

_HINTS = {
    400: "Check the address or the form and try again.",
    401: "Log in and try again.",
    403: "You do not have access to this page.",
    404: "Check the address for typos, or start again from the home page.",
    408: "The request took too long to arrive. Check your connection and try again.",
    415: "This address does not accept this kind of content.",
    422: "Some of the values sent are not valid; correct them and try again.",
    431: "The request headers are too large. Clearing this site's cookies usually fixes this.",
    500: "Something went wrong on our side. It has been logged; try again later.",
}


def _hint(
    status: int,
    code: str | None,
    headers: Mapping[str, str] | None,
    extra: Mapping[str, Any],
    retry_after: int | None,
    request: Request | None,
) -> str:
    if code and code.startswith("csrf_"):
        return "Go back, reload the page, and submit the form again."
    if status == 405:
        allow = _header(headers, "allow")
        method = request.method if request is not None else "this"
        if allow:
            return f"This address does not accept {method} requests; it accepts {allow}."
        return f"This address does not accept {method} requests."
    if status == 413:
        limit = extra.get("limit")
        if isinstance(limit, int) and not isinstance(limit, bool):
            return f"The limit is {format_size(limit)}. Send a smaller file or less data."
        return "Send a smaller file or less data."
    if status in (429, 503):
        lead = "You sent too many requests." if status == 429 else "The service is busy or down."
        if retry_after is not None:
            return f"{lead} Try again in {format_seconds(retry_after)}."
        return f"{lead} Try again later."
    if status in _HINTS:
        return _HINTS[status]
    return "Try again, or start again from the home page."


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def _retry_after(headers: Mapping[str, str] | None) -> int | None:
    value = _header(headers, "retry-after")
    if value is not None and value.strip().isdigit() and len(value.strip()) < 10:
        return int(value.strip())
    return None


def format_seconds(seconds: int) -> str:
    """``30`` → ``"30 seconds"``, ``120`` → ``"2 minutes"``, ``7200`` → ``"2 hours"``."""
    if seconds >= 7200:
        return f"{round(seconds / 3600)} hours"
    if seconds >= 90:
        return f"{round(seconds / 60)} minutes"
    return "1 second" if seconds == 1 else f"{seconds} seconds"


def format_size(n: int) -> str:
    """``1048576`` → ``"1 MB"``, ``1536`` → ``"1.5 KB"`` (binary units)."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


__all__ = [
    "PAGE_CSP",
    "ErrorInfo",
    "ErrorPage",
    "bare_error",
    "error_info",
    "format_seconds",
    "format_size",
    "html_page",
    "negotiate",
    "plain_error",
    "render_error",
    "wants_json",
]
