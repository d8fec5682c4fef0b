"""The pure core of multipart/form-data parsing: bytes in, events out.

Theory of operation
-------------------
python-multipart's ``MultipartParser`` is a push parser: it is fed bytes and
calls back for every header fragment and every run of part data, keeping only
a boundary's worth of look-behind between calls. ``FormDataParser`` wraps it
and turns those callbacks into a flat list of events per ``feed()``:

    Part(name, filename, content_type, headers)   the headers of a part are complete
    bytes                                          some data of the current part
    PART_END                                       the current part is complete

Invariants, all enforced here so the async layer cannot forget them:

- Memory per ``feed()`` is bounded by the size of the data fed plus one
  part's headers (``max_header_bytes``); nothing accumulates across feeds
  except the headers of the part being read.
- Every limit fails fast, before the offending bytes are handed on: too many
  parts, a field or file over its cap → 413; a malformed body, oversized part
  headers, a part without a usable ``Content-Disposition`` → 400.
- A body ends well only at its closing delimiter: ``close()`` raises 400
  otherwise. Bytes before the first delimiter (python-multipart tolerates
  blank lines there) are bounded by ``max_preamble``; bytes after the closing
  delimiter are ignored.

Nothing here awaits or touches a request; limits are constructor arguments.
``MultipartLimits`` holds their defaults and per-app values; the filename
helper ``secure_filename`` lives here too, being pure text processing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, fields
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

from ..datastructures import Headers
from ..exceptions import ConfigurationError, HTTPException

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

    from ..app import Junco

MiB: Final = 1024 * 1024
INSTALL_HINT: Final = 'multipart support needs python-multipart: pip install "junco[multipart]"'


def require_python_multipart() -> ModuleType:
    """Import python-multipart's parser module, or explain how to install it.

    Raises:
        ImportError: python-multipart is not installed.
    """
    try:
        import python_multipart.multipart as pm
    except ImportError as exc:  # pragma: no cover - the extra is installed in the tests
        raise ImportError(INSTALL_HINT) from exc
    return pm


@dataclass(frozen=True, slots=True)
class MultipartLimits:
    """Limits for multipart parsing; set them per app with :func:`configure`.

    Attributes:
        max_parts: Most parts (fields plus files) in one body; 413 above.
        max_field_size: Most bytes in one non-file field; 413 above.
        max_file_size: Most bytes in one file; ``None`` means the app's
            ``max_content_length`` (which also caps the whole body); 413 above.
        max_header_lines: Most header lines in one part; 400 above.
        max_header_bytes: Most header bytes in one part; 400 above.
        max_memory_size: Bytes of one file kept in memory before it is
            spooled to a temporary file.
        max_form_memory: Bytes ``with_form_data`` keeps in memory for one
            request: field values (413 above) plus unspooled files (later
            files go straight to disk once it is used up).
        tmp_dir: Directory for temporary files; ``None`` is the system's
            (``tempfile.gettempdir()``: ``$TMPDIR``, ``/tmp``, ...).
    """

    max_parts: int = 1000
    max_field_size: int = MiB
    max_file_size: int | None = None
    max_header_lines: int = 32
    max_header_bytes: int = 8 * 1024
    max_memory_size: int = MiB
    max_form_memory: int = 8 * MiB
    tmp_dir: str | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "tmp_dir" and value is not None and (type(value) is not int or value < 0):
                raise ConfigurationError(f"multipart limit {f.name} must be a non-negative int")


def configure(app: Junco, **limits: Any) -> MultipartLimits:
    """Set multipart limits for ``app`` (kept in ``app.extensions['multipart']``).

    Limits set by an earlier call stay unless named again.

    Args:
        app: The application.
        **limits: Any :class:`MultipartLimits` field.

    Returns:
        The app's limits, as every request will see them.

    Raises:
        TypeError: an unknown limit name.
        ValueError: a limit that is not a non-negative int.
    """
    merged = {**app.extensions.get("multipart", {}), **limits}
    resolved = MultipartLimits(**merged)
    app.extensions["multipart"] = merged
    return resolved


def resolve_limits(app: Junco, overrides: dict[str, Any]) -> MultipartLimits:
    """The app's limits (``app.extensions['multipart']``) updated by ``overrides``."""
    base = app.extensions.get("multipart")
    return MultipartLimits(**{**base, **overrides}) if base else MultipartLimits(**overrides)


@dataclass(frozen=True, slots=True)
class Part:
    """The headers of one part: the start of a form field or a file.

    ``filename`` is ``None`` for an ordinary field and a string (possibly
    empty) for a file. It is the client's raw value: never use it as a path.
    """

    name: str
    filename: str | None
    content_type: str | None
    headers: Headers


class _PartEnd:
    __slots__ = ()

    def __repr__(self) -> str:
        return "PART_END"


PART_END: Final = _PartEnd()
Event = Part | bytes | _PartEnd

# RFC 2046 5.1.1: 1 to 70 characters, no trailing space.
_BOUNDARY = re.compile(rb"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
_TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # noqa: S105 - an RFC 9110 token, not a secret
_DISPOSITION_TYPE = re.compile(rf"[ \t]*({_TOKEN})[ \t]*")
_PARAM = re.compile(rf';[ \t]*({_TOKEN})[ \t]*=[ \t]*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]*))[ \t]*')
_QUOTED_PAIR = re.compile(r'\\(["\\])')
_TRAILER = re.compile(r"[ \t;]*")
_CTL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_CTL_TEXT = re.compile(r"[\x00-\x1f\x7f]")


def boundary_from_content_type(content_type: str | None) -> bytes:
    """Check that a request is multipart/form-data and return its boundary.

    Raises:
        HTTPException: 415 for any other content type, 400 when the boundary
            is missing or not a valid RFC 2046 boundary (1 to 70 characters).
    """
    pm = require_python_multipart()
    mimetype, params = pm.parse_options_header(content_type or "")
    if mimetype != b"multipart/form-data":
        raise HTTPException(415, "expected a multipart/form-data body")
    boundary = params.get(b"boundary")
    if not boundary:
        raise HTTPException(400, "multipart body without a boundary")
    if not _BOUNDARY.fullmatch(boundary):
        raise HTTPException(400, "invalid multipart boundary")
    return bytes(boundary)


def parse_content_disposition(value: str) -> tuple[str, dict[str, str]]:
    """Split a ``Content-Disposition`` value into its type and parameters.

    Types and parameter names are lower-cased. In quoted values ``\\"`` and
    ``\\\\`` are unescaped; any other backslash is kept (Windows paths).

    Raises:
        HTTPException: 400 on a syntax error or a repeated parameter, which
            could be read differently by different parsers.
    """
    m = _DISPOSITION_TYPE.match(value)
    if m is None:
        raise HTTPException(400, "invalid Content-Disposition in a multipart part")
    kind = m[1].lower()
    params: dict[str, str] = {}
    pos = m.end()
    while pos < len(value):
        m = _PARAM.match(value, pos)
        if m is None:
            if _TRAILER.fullmatch(value, pos):
                break
            raise HTTPException(400, "invalid Content-Disposition in a multipart part")
        key = m[1].lower()
        if key in params:
            raise HTTPException(400, "repeated parameter in a multipart Content-Disposition")
        params[key] = _QUOTED_PAIR.sub(r"\1", m[2]) if m[2] is not None else m[3]
        pos = m.end()
    return kind, params


def _extended_value(value: str) -> str:
    """Decode an RFC 8187 ``charset'language'percent-encoded`` value."""
    charset, sep, rest = value.partition("'")
    _language, sep2, encoded = rest.partition("'")
    charset = charset.lower()
    if not (sep and sep2) or charset not in ("utf-8", "iso-8859-1"):
        raise HTTPException(400, "invalid filename* in a multipart part")
    try:
        return unquote(encoded, encoding=charset, errors="strict")
    except UnicodeDecodeError:
        raise HTTPException(400, "invalid filename* in a multipart part") from None


def _text(raw: bytes) -> str:
    # Browsers send names and filenames as raw UTF-8; fall back to latin-1,
    # which cannot fail, for older clients.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def make_part(raw_headers: list[tuple[bytes, bytes]]) -> Part:
    """Build a :class:`Part` from a part's raw header lines.

    Raises:
        HTTPException: 400 for control characters in a header, a missing or
            repeated ``Content-Disposition``, a type other than ``form-data``
            or a missing ``name``.
    """
    headers = Headers()
    for field, value in raw_headers:
        if _CTL.search(value):
            raise HTTPException(400, "control character in a multipart part header")
        headers.add(field.decode("latin-1"), _text(value).strip(" \t"))
    dispositions = headers.getlist("content-disposition")
    if len(dispositions) != 1:
        raise HTTPException(400, "a multipart part needs exactly one Content-Disposition")
    kind, params = parse_content_disposition(dispositions[0])
    name = params.get("name")
    if kind != "form-data" or name is None:
        raise HTTPException(400, "a multipart part needs Content-Disposition: form-data; name=")
    filename = params.get("filename")
    if "filename*" in params:
        filename = _extended_value(params["filename*"])
        if _CTL_TEXT.search(filename):
            raise HTTPException(400, "control character in a multipart filename")
    return Part(name, filename, headers.get("content-type"), headers)


class FormDataParser:
    """Incremental multipart/form-data parser with limits.

    Args:
        boundary: The boundary from the request's ``Content-Type``.
        max_parts: Most parts (fields plus files) accepted; 413 above.
        max_field_size: Most bytes in one non-file field; 413 above.
        max_file_size: Most bytes in one file; 413 above.
        max_header_lines: Most header lines in one part; 400 above.
        max_header_bytes: Most header bytes in one part; 400 above.
        max_preamble: Most bytes before the first delimiter; 400 above.
    """

    def __init__(
        self,
        boundary: bytes,
        *,
        max_parts: int = 1000,
        max_field_size: int = 1024 * 1024,
        max_file_size: int = 16 * 1024 * 1024,
        max_header_lines: int = 32,
        max_header_bytes: int = 8 * 1024,
        max_preamble: int = 1024,
    ) -> None:
        pm = require_python_multipart()
        self._error = pm.MultipartParseError
        self.max_parts = max_parts
        self.max_field_size = max_field_size
        self.max_file_size = max_file_size
        self.max_header_lines = max_header_lines
        self.max_header_bytes = max_header_bytes
        self._preamble_limit = max_preamble + len(boundary) + 4
        self.done = False
        self._events: list[Event] = []
        self._parts = 0
        self._fed = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._field = bytearray()
        self._value = bytearray()
        self._header_bytes = 0
        self._size = 0
        self._limit = 0
        callbacks: MultipartCallbacks = {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_end": self._on_end,
        }
        self._parser = pm.MultipartParser(
            boundary,
            callbacks,
            max_header_count=max_header_lines,
            max_header_size=max_header_bytes,
        )

    def feed(self, data: bytes) -> list[Event]:
        """Parse ``data``; return the events it completed.

        Raises:
            HTTPException: 400 or 413 (see the class docstring).
        """
        if self.done or not data:
            return []
        try:
            self._parser.write(data)
        except self._error:
            raise HTTPException(400, "malformed multipart body") from None
        self._fed += len(data)
        if not self._parts and not self.done and self._fed > self._preamble_limit:
            raise HTTPException(400, "multipart body does not start with its boundary")
        events, self._events = self._events, []
        return events

    def close(self) -> None:
        """Declare the end of the body.

        Raises:
            HTTPException: 400 when the closing delimiter was never seen.
        """
        if not self.done:
            raise HTTPException(400, "multipart body ended before its closing boundary")

    # -- python-multipart callbacks ------------------------------------------------------

    def _on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > self.max_parts:
            raise HTTPException(413, "too many parts in the multipart body")
        self._headers = []
        self._header_bytes = 0

    def _count_header_bytes(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > self.max_header_bytes:
            raise HTTPException(400, "multipart part headers too large")

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header_bytes(end - start)
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header_bytes(end - start)
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers.append((bytes(self._field), bytes(self._value)))
        self._field.clear()
        self._value.clear()
        if len(self._headers) > self.max_header_lines:
            raise HTTPException(400, "too many headers in a multipart part")

    def _on_headers_finished(self) -> None:
        part = make_part(self._headers)
        self._size = 0
        self._limit = self.max_field_size if part.filename is None else self.max_file_size
        self._events.append(part)

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._size += end - start
        if self._size > self._limit:
            raise HTTPException(413, "multipart field or file too large")
        if end > start:
            self._events.append(data[start:end])

    def _on_part_end(self) -> None:
        self._events.append(PART_END)

    def _on_end(self) -> None:
        self.done = True


_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def secure_filename(filename: str) -> str:
    """Reduce a client-supplied filename to a safe, portable ASCII name.

    Directory parts are dropped, accents are stripped, every other character
    outside ``A-Z a-z 0-9 _ . -`` becomes ``_``, leading dots and underscores
    go (no hidden files, no ``..``), Windows device names get a ``_`` prefix
    and the result is cut to 200 characters.

    The result may be empty: choose a name of your own then. Two uploads can
    map to the same name, so do not let this decide which file to overwrite.
    """
    name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).lstrip("._")
    if name.split(".", 1)[0].upper() in _WINDOWS_DEVICES:
        name = "_" + name
    return name[:200]
