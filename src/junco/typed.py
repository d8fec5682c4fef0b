"""Typed handlers: parameters bound from the request by annotation, validated with msgspec.

Theory of operation
-------------------
Everything is decided when a route is registered. ``Junco.add_route`` hands
a handler that carries annotations to :func:`bind`, which reads its signature
once and returns either the handler itself (nothing to bind: a Microdot-style
handler, whose annotations only name ``request``, URL arguments or a plain
return type) or an async wrapper that owns a :class:`Binding`. A plain
handler therefore costs exactly what it did before; msgspec is imported only
when a binding is built.

Where each parameter comes from, after ``request``:

- a URL argument (``<int:id>``): passed through as today;
- a structured type (msgspec ``Struct``, dataclass, ``TypedDict``, pydantic
  ``BaseModel``): the **body**, JSON by ``Content-Type``, or a urlencoded or
  multipart form for flat models;
- ``Annotated[T, Header("X-Name")]`` / ``Annotated[T, Cookie("name")]``: a
  header or a cookie;
- any other annotation: the **query string** (``list[...]`` takes every value);
- :class:`~junco.multipart.FileUpload` (``| None``, ``list[...]``): an uploaded
  file of a multipart body, by the parameter's name. A model may hold such
  fields too. Files are copied (memory, then an anonymous temporary file)
  under the app's multipart limits before the handler runs, and closed when
  its response is done; files the handler does not declare are skipped.

A parameter with a default is optional. An unannotated parameter without a
default cannot be filled and is a ``TypeError`` at registration.

Every problem found in the request is collected and raised at once as
:class:`ValidationError` (422, ``code = "validation_failed"``), each with its
location (``["body", "price"]``, ``["query", "verbose"]``). The body limits
and the 400 for malformed or too deeply nested JSON apply before validation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import decimal
import enum
import inspect
import re
import types
import typing
import uuid
from collections.abc import Callable
from typing import Any

from .exceptions import HTTPException
from .response import Response

_EMPTY: Any = inspect.Parameter.empty
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


class Header:
    """Take a parameter from a request header: ``Annotated[str, Header("X-Token")]``.

    Args:
        name: The header name; by default the parameter's name with ``_`` as ``-``.
    """

    source = "header"

    def __init__(self, name: str | None = None) -> None:
        self.name = name


class Cookie(Header):
    """Take a parameter from a cookie: ``Annotated[str, Cookie("session")]``.

    Args:
        name: The cookie name; by default the parameter's name.
    """

    source = "cookie"


class Query(Header):
    """Take a parameter from the query string under another name: ``Query("q")``.

    Args:
        name: The query parameter name; by default the parameter's name.
    """

    source = "query"


class ValidationError(HTTPException):
    """422: the request did not match the handler's annotations.

    Args:
        errors: One ``{"loc": [...], "msg": "..."}`` per problem found.
    """

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        # junco's error renderer puts extra's members into the JSON error object.
        super().__init__(
            422,
            "the request is not valid: " + _summary(errors),
            code="validation_failed",
            extra={"errors": errors},
        )
        self.errors = errors


def _summary(errors: list[dict[str, Any]]) -> str:
    first = errors[0] if errors else {"loc": [], "msg": "invalid"}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}{more}"


def validation_error_response(request: Any, exc: ValidationError) -> Response:
    """The 422 for ``exc`` (installed as the app's handler for it).

    JSON (``{"error": {"status", "code", "message", "errors"}}``) for every
    client but a browser, which gets junco's error page listing the errors
    (see :mod:`junco.errors`).
    """
    from .errors import negotiate, render_error

    h = request.headers
    form = "html" if negotiate(h.get("accept"), h.get("content-type")) == "html" else "json"
    return render_error(request, exc, form=form)


@dataclasses.dataclass(frozen=True, slots=True)
class Param:
    """One bound parameter: where it comes from and its type."""

    name: str
    source: str  # "query", "header", "cookie" or "file"
    key: str  # the name on the wire
    annotation: Any
    default: Any
    many: bool

    @property
    def required(self) -> bool:
        return self.default is _EMPTY


@dataclasses.dataclass(slots=True)
class Binding:
    """What :func:`bind` learnt about a handler; read by :mod:`junco.openapi`."""

    handler: Callable[..., Any]
    url_args: tuple[str, ...]
    params: tuple[Param, ...]
    body_name: str | None = None
    body_type: Any = None
    body_required: bool = True
    response_type: Any = None
    files: tuple[Param, ...] = ()  # source "file": uploads of a multipart body


# -- registration -----------------------------------------------------------------------


def bind(
    app: Any,
    handler: Callable[..., Any],
    url_args: list[str],
    response_model: Any = None,
    owner: str | None = None,
) -> Callable[..., Any]:
    """The handler junco should call for ``handler``: itself, or a binding wrapper.

    Args:
        app: The app the route is registered on (it gets the 422 renderer).
        handler: The route's handler.
        url_args: Names of the URL arguments of the route's pattern.
        response_model: Validate and serialise return values as this type.
        owner: How to name the handler in error messages.

    Raises:
        TypeError: A parameter cannot be bound (say, unannotated and no default).
    """
    binding = inspect_handler(handler, url_args, response_model, owner)
    if binding is None:
        return handler
    _msgspec()  # a missing extra fails now, at registration, not per request
    if ValidationError not in app.error_handlers:
        app.error_handlers[ValidationError] = validation_error_response
    return _wrapper(binding)


def inspect_handler(
    handler: Callable[..., Any],
    url_args: list[str],
    response_model: Any = None,
    owner: str | None = None,
) -> Binding | None:
    """The :class:`Binding` for ``handler``, or ``None`` when nothing needs binding."""
    where: str = owner or getattr(handler, "__qualname__", None) or repr(handler)
    found = _target(handler)
    if found is None:
        return None
    target, params = found
    raw = inspect.get_annotations(target)
    todo = [p for p in params if p.name not in url_args]
    rtype = response_model
    if rtype is None and "return" in raw:
        rtype = resolve_annotation(target, raw["return"], None)  # unresolvable: not a model
    rtype = rtype if returns_model(rtype) else None
    unfillable = [p.name for p in todo if p.name not in raw and p.default is _EMPTY]
    if unfillable:
        raise TypeError(
            f"{where}: parameter {unfillable[0]!r} is not a URL argument, has no annotation "
            "and no default, so junco cannot fill it; annotate it (a model is the body, a "
            "scalar the query string) or give it a default"
        )
    if not any(p.name in raw for p in todo) and rtype is None:
        return None
    binding = Binding(handler, tuple(url_args), (), response_type=rtype)
    bound: list[Param] = []
    for p in todo:
        if p.name in raw:
            _classify(binding, bound, p, resolve_annotation(target, raw[p.name], where), where)
    binding.params = tuple(q for q in bound if q.source != "file")
    binding.files = tuple(q for q in bound if q.source == "file")
    return binding


def _target(handler: Callable[..., Any]) -> tuple[Any, list[inspect.Parameter]] | None:
    """The function whose parameters junco fills, and those after ``request``.

    A wrapper taking ``*args, **kwargs`` is looked through only when it is a
    guard that passes them on (``BasicAuth``, ``Login``... mark theirs with
    ``_junco_guard``); any other such wrapper fills parameters itself.
    """
    fn: Any = handler
    while True:
        try:
            params = list(inspect.signature(fn, follow_wrapped=False).parameters.values())[1:]
        except (TypeError, ValueError):
            return None
        if not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
            return fn, params
        if getattr(fn, "_junco_guard", None) is None or not hasattr(fn, "__wrapped__"):
            return None
        fn = fn.__wrapped__


def resolve_annotation(fn: Any, annotation: Any, where: str | None = None) -> Any:
    """An annotation's value; a string one is evaluated where the function was written.

    Only the annotations junco binds are resolved, so ``request: Request`` with
    ``Request`` imported under ``TYPE_CHECKING`` stays harmless. ``where=None``
    means "``None`` if it cannot be resolved"; otherwise that is a ``TypeError``.
    """
    if not isinstance(annotation, str):
        return annotation
    namespace = getattr(inspect.unwrap(fn), "__globals__", None)
    if namespace is None:
        namespace = getattr(getattr(fn, "__func__", None), "__globals__", {})
    try:
        # The developer's own annotation text, evaluated in the handler's module.
        return eval(annotation, namespace)  # noqa: S307
    except Exception as exc:
        if where is None:
            return None
        raise TypeError(
            f"{where}: cannot resolve the annotation {annotation!r} ({exc}); define the "
            "types it names at module level"
        ) from exc


def _classify(
    binding: Binding, bound: list[Param], p: inspect.Parameter, hint: Any, where: str
) -> None:
    marker: Header | None = None
    base = hint
    if typing.get_origin(hint) is typing.Annotated:
        base, *extras = typing.get_args(hint)
        marker = next((e for e in extras if isinstance(e, Header)), None)
    if marker is None and is_upload(base):
        many = typing.get_origin(_strip_optional(base)) is list
        bound.append(Param(p.name, "file", p.name, base, p.default, many))
        return
    if marker is None and is_model(_strip_optional(base)):
        if binding.body_name is not None:
            raise TypeError(
                f"{where}: both {binding.body_name!r} and {p.name!r} are request bodies; "
                "a request has one body, so make one model that holds both"
            )
        # ``item: Item | None = None``: an optional body, decoded as an Item when sent.
        binding.body_name, binding.body_type = p.name, _strip_optional(base)
        binding.body_required = p.default is _EMPTY
        return
    source = marker.source if marker is not None else "query"
    key = marker.name if marker is not None and marker.name else p.name
    if source == "header" and not (marker and marker.name):
        key = p.name.replace("_", "-")
    if not is_scalar(base, containers=source == "query"):
        raise TypeError(
            f"{where}: parameter {p.name!r} is a {source} value, which is text; "
            f"{base!r} cannot be read from it (use a scalar type, or a model for the body)"
        )
    many = typing.get_origin(_strip_optional(base)) in (list, tuple, set, frozenset)
    bound.append(Param(p.name, source, key, base, p.default, many))


_SCALARS = (
    str,
    int,
    float,
    bool,
    bytes,
    decimal.Decimal,
    uuid.UUID,
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    enum.Enum,
)


def is_scalar(t: Any, containers: bool = True) -> bool:
    """Whether a value of type ``t`` can be read from text (a query, header or cookie)."""
    origin = typing.get_origin(t)
    if origin is typing.Literal or t is type(None) or t is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return all(is_scalar(a, containers) for a in typing.get_args(t))
    if origin in (list, tuple, set, frozenset) and containers:
        args = [a for a in typing.get_args(t) if a is not Ellipsis]
        return all(is_scalar(a, False) for a in args)
    return isinstance(t, type) and issubclass(t, _SCALARS)


def is_upload(t: Any) -> bool:
    """Whether ``t`` is an uploaded file: ``FileUpload``, optional, or a ``list`` of them."""
    from .multipart import FileUpload

    t = _strip_optional(t)
    if typing.get_origin(t) is list:
        (t,) = typing.get_args(t) or (None,)
    return t is FileUpload


def _strip_optional(t: Any) -> Any:
    if typing.get_origin(t) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(t) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return t


def is_model(t: Any) -> bool:
    """Whether ``t`` is a structured type: a request body or a JSON response."""
    if not isinstance(t, type):
        return False
    return (
        hasattr(t, "__struct_fields__")  # msgspec.Struct
        or dataclasses.is_dataclass(t)
        or typing.is_typeddict(t)
        or _is_pydantic(t)
    )


def _is_pydantic(t: Any) -> bool:
    return isinstance(t, type) and hasattr(t, "model_validate") and hasattr(t, "model_fields")


def returns_model(t: Any) -> bool:
    """Whether ``t`` is a model, a list of models or an optional model."""
    t = _strip_optional(t)
    if typing.get_origin(t) in (list, tuple):
        args = typing.get_args(t)
        return bool(args) and is_model(args[0])
    return is_model(t)


def _msgspec() -> Any:
    try:
        import msgspec
    except ImportError:  # pragma: no cover - exercised when the extra is absent
        raise ImportError('typed handlers need msgspec: pip install "junco[typed]"') from None
    return msgspec


# -- calling ----------------------------------------------------------------------------


def _wrapper(binding: Binding) -> Callable[..., Any]:
    handler = binding.handler
    fill = _filler(binding)
    finish = _encoder(binding.response_type)
    has_body = binding.body_type is not None or bool(binding.files)
    preload = _multipart_loader(binding) if has_body else None
    if inspect.iscoroutinefunction(handler):
        mode = 0
    elif inspect.isgeneratorfunction(handler) or inspect.isasyncgenfunction(handler):
        mode = 1  # creating a generator never blocks
    else:
        mode = 2  # as junco does for sync handlers: in a thread

    # One coroutine per request; only a multipart body needs an await before binding.
    async def wrapped(request: Any, **url_args: Any) -> Any:
        uploads = None
        if preload is not None and request.mimetype == "multipart/form-data":
            uploads = await preload(request)
        try:
            kwargs = fill(request)
            if mode == 0:
                rv = await handler(request, **url_args, **kwargs)
            elif mode == 1:
                rv = handler(request, **url_args, **kwargs)
            else:
                rv = await asyncio.to_thread(handler, request, **url_args, **kwargs)
                if inspect.isawaitable(rv):
                    rv = await rv
            if finish is not None:
                rv = finish(rv)
        except BaseException:
            if uploads:
                await _close_uploads(uploads)
            raise
        # Uploads are closed once the response is done (a streamed one: once sent).
        return rv if not uploads else await _release_after(rv, uploads)

    wrapped.__name__ = getattr(handler, "__name__", "handler")
    wrapped.__qualname__ = getattr(handler, "__qualname__", wrapped.__name__)
    wrapped.__doc__ = handler.__doc__
    wrapped.__module__ = getattr(handler, "__module__", __name__)
    wrapped.__wrapped__ = handler  # type: ignore[attr-defined]  # for marks kept on the chain
    wrapped._junco_binding = binding  # type: ignore[attr-defined]
    return wrapped


def binding_of(handler: Callable[..., Any]) -> Binding | None:
    """The :class:`Binding` of a handler returned by :func:`bind`, if any."""
    return getattr(handler, "_junco_binding", None)


def _filler(binding: Binding) -> Callable[[Any], Any]:
    msgspec = _msgspec()
    convert, verr = msgspec.convert, msgspec.ValidationError
    params = binding.params
    body = _body_reader(binding) if binding.body_name is not None else None
    body_name, files = binding.body_name, binding.files

    def fill(request: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for p in params:
            raw = _raw(request, p)
            if raw is None:
                if p.default is _EMPTY:
                    errors.append({"loc": [p.source, p.key], "msg": "field required"})
                else:
                    out[p.name] = p.default
                continue
            try:
                out[p.name] = convert(raw, p.annotation, strict=False)
            except verr as exc:
                errors.append(_error([p.source, p.key], exc))
        if body is not None:
            try:
                out[body_name] = body(request)  # type: ignore[index]
            except ValidationError as exc:
                errors.extend(exc.errors)
        for p in files:
            got = uploads_of(request, p.key)
            if got:
                out[p.name] = got if p.many else got[0]
            elif p.default is _EMPTY:
                errors.append({"loc": ["body", p.key], "msg": "a file is required"})
            else:
                out[p.name] = p.default
        if errors:
            raise ValidationError(errors)
        return out

    return fill


def uploads_of(request: Any, name: str) -> list[Any]:
    """The files of field ``name`` in a multipart body (none: ``[]``).

    A browser sends a file input left empty as a part with no filename and
    no bytes; that is no file.
    """
    files = request.files
    if not files:
        return []
    return [u for u in files.getlist(name) if u.filename or u.size]


def _raw(request: Any, p: Param) -> Any:
    if p.source == "query":
        values = request.args.getlist(p.key)
    elif p.source == "header":
        values = request.headers.getlist(p.key)
    else:
        value = request.cookies.get(p.key)
        values = [] if value is None else [value]
    if not values:
        return None
    return values if p.many else values[0]


def _error(loc: list[Any], exc: Exception) -> dict[str, Any]:
    """A located error from a msgspec message (``... - at `$.a[0]```)."""
    msg, _, path = str(exc).partition(" - at `$")
    for name, index in _PATH_PART.findall(path.rstrip("`")):
        loc = [*loc, int(index) if index else name]
    return {"loc": loc, "msg": msg}


def _body_reader(binding: Binding) -> Callable[[Any], Any]:
    from ._typed_body import body_reader

    return body_reader(binding.body_type, binding.body_required)


def _multipart_loader(binding: Binding) -> Callable[[Any], Any]:
    from ._typed_body import multipart_loader

    return multipart_loader(binding)


async def _close_uploads(uploads: list[Any]) -> None:
    from .multipart import _close_all

    await _close_all(uploads)


async def _release_after(rv: Any, uploads: list[Any]) -> Any:
    from .multipart import release_after

    return await release_after(rv, uploads)


def _encoder(rtype: Any) -> Callable[[Any], Any] | None:
    if rtype is None:
        return None
    from ._typed_body import encoder

    return encoder(rtype)


__all__ = [
    "Binding",
    "Cookie",
    "Header",
    "Param",
    "Query",
    "ValidationError",
    "bind",
    "binding_of",
    "inspect_handler",
    "is_model",
    "is_scalar",
    "is_upload",
    "resolve_annotation",
    "returns_model",
    "validation_error_response",
]
