"""A request id on every request, every response (errors too) and every log record.

::

    RequestID(app)

    @app.get("/")
    async def index(request):
        logger.info("hello")          # with RequestIDLogFilter: "... [3f0c...] hello"
        return request.request_id

An incoming ``X-Request-ID`` (set by a proxy or a calling service) is kept when
``trust_incoming`` is on and it is 1 to 64 characters of ``A-Z a-z 0-9 . _ -``;
anything else (too long, a newline, non-ASCII) is replaced by a fresh id, so
log lines cannot be forged or split through it. Fresh ids are random version 4
UUIDs written as 32 hex digits, like ``uuid.uuid4().hex``, but built straight
from the OS's random bytes (the same 122 random bits at a fifth of the cost). The
response header always carries the request's id, replacing any value a
handler set.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from .._random import random_uuid_hex
from ..datastructures import Headers, single_header
from ..exceptions import ConfigurationError
from ..phases import Phase
from ..request import REQUEST_ID, Slot, _current

if TYPE_CHECKING:
    from ..request import Request
    from ..response import Response

_VALID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
_WRITTEN: Slot[bool] = Slot("_junco_request_id_written")  # a raw header was added


def new_request_id() -> str:
    """A random version 4 UUID in hex, e.g. ``'9f1c0b7e3a554d2eb1f06c2d8e4a7b90'``."""
    return random_uuid_hex()


class RequestID:
    """Native middleware giving each request an id (``request.request_id``) and echoing it.

    Args:
        app: The app to install on; or add it later with ``app.add_middleware``.
        header: The request and response header carrying the id.
        trust_incoming: Keep a well-formed id sent by the client or proxy.
            Turn it off when clients reach the app directly and ids must be
            unique.

    Raises:
        ValueError: ``header`` is not a valid header name.
    """

    #: Before every hook that may refuse or log, so their log lines and responses carry the id.
    phase = Phase.TRANSPORT

    def __init__(
        self, app: Any = None, header: str = "X-Request-ID", trust_incoming: bool = True
    ) -> None:
        Headers({header: "-"})  # refuses an invalid name
        self.header = header
        self.trust_incoming = trust_incoming
        self._name = header.lower()
        self._raw_name = self._name.encode("latin-1")
        if app is not None:
            if not hasattr(app, "add_middleware"):
                raise ConfigurationError("the first argument is the app; pass settings by keyword")
            app.add_middleware(self)

    def before_request(self, request: Request) -> None:
        """Set ``request.request_id``: the incoming one if acceptable, else a new one."""
        self._assign(request)

    def _assign(self, request: Request) -> str:
        rid = None
        if self.trust_incoming:
            value = single_header(request.asgi_scope, self._raw_name)
            if value is not None and _VALID.fullmatch(value) is not None:
                rid = value.decode("ascii")
        return REQUEST_ID.set(request, rid or random_uuid_hex())

    def after_request(self, request: Request, response: Response) -> None:
        """Put the id in the response (made here if the request failed before the hooks)."""
        rid = REQUEST_ID.get(request)
        if rid is None:
            # Refused before our before-hook ran: by the header or path checks, which
            # come before every hook (junco._dispatch). Junco's components of earlier
            # phases never refuse, so this is the one way here; the id is still owed.
            rid = self._assign(request)
        if response._headers is None:
            # Still raw pairs: add ours encoded, or replace one already there
            # (only ever there if a RequestID already wrote to this request).
            pair = (self._raw_name, rid.encode("ascii"))
            extra = response._extra
            if extra is not None and _WRITTEN.is_set(request):
                for i, (name, _) in enumerate(extra):
                    if name == self._raw_name:
                        extra[i] = pair
                        return
            _WRITTEN.set(request, True)
            response._add_raw((pair,))
            return
        response.headers._data()[self._name] = [rid]

    after_error_request = after_request


class RequestIDLogFilter(logging.Filter):
    """Adds ``record.request_id``: the current request's id, or ``"-"`` outside one.

    Install it on the handlers whose format uses ``%(request_id)s``::

        handler = logging.StreamHandler()
        handler.addFilter(RequestIDLogFilter())
        handler.setFormatter(logging.Formatter("%(levelname)s [%(request_id)s] %(message)s"))
        logging.getLogger().addHandler(handler)

    A record that already has a ``request_id`` (``extra={"request_id": ...}``) keeps it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, REQUEST_ID.name):
            request = _current.get()
            rid = "-"
            if request is not None and not request.finished:
                rid = REQUEST_ID.get(request, "-")
            record.request_id = rid
        return True


__all__ = ["RequestID", "RequestIDLogFilter", "new_request_id"]
