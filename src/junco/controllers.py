"""Class-based controllers: the public methods of a class become routes (MicroPie's idea).

A :class:`Controller` *is* a :class:`~junco.Junco` app whose routes are read off
its class when it is created, so it can be served on its own, tested with
``TestClient`` or mounted (``app.mount(Root(), url_prefix="")``) like any
junco sub-app, with hooks, error handlers and lifespan handlers of its own.

Rules, checked when the class is defined or first instantiated:

- Routes come from plain functions defined on the subclass and on any class
  between it and ``Controller`` in the MRO; never from ``Controller``,
  ``Junco`` or ``object``. Names starting with ``_``, ``staticmethod`` and
  ``classmethod`` objects, properties and functions marked ``@not_route`` are
  not routes.
- ``index`` answers ``/``, ``name`` answers ``/name``, ``ws_name`` is a
  WebSocket endpoint at ``/name``. One trailing ``_`` is dropped, so
  ``delete_`` answers ``/delete`` and ``import_`` ``/import``.
- A public name that would hide one of Junco's attributes (``route``,
  ``delete``, ``run``, ``state``...) is a ``TypeError`` at class definition,
  unless it is a function marked ``@not_route`` (a deliberate override).
- After ``request`` (and ``ws`` for WebSocket routes), positional parameters
  without a default are path segments, in order; every other parameter comes
  from the query string, then the urlencoded form, converted to its annotation
  (``str``, ``int``, ``float``, ``bool``, ``list[...]``, ``X | None``).
  Nothing is ever taken from cookies, headers or the session.
- A method with a model parameter (the body), an ``Annotated[..., Header()]``
  or ``Cookie()`` marker, a richer type (``UUID``, ``datetime``, ``Literal``...)
  or a model return type is bound by :mod:`junco.typed` instead, like any
  typed handler: invalid input is a 422 listing every error.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from . import typed
from .app import Junco
from .exceptions import ConfigurationError, HTTPException
from .request import Request
from .websocket import with_websocket

F = TypeVar("F", bound=Callable[..., Any])

_NOT_ROUTE = "_junco_not_route"
_METHODS = "_junco_methods"
_TOKEN = re.compile(r"[A-Z][A-Z0-9_-]{0,31}")
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_FLOAT_PATH = r"-?[0-9]+(?:\.[0-9]+)?"
_TRUE = frozenset(("1", "true", "yes", "on"))
_FALSE = frozenset(("0", "false", "no", "off", ""))
_SCALARS: tuple[type, ...] = (str, int, float, bool)
_PATH_TYPES = {str: "", int: "int:", float: "float:"}
_MISSING: Any = inspect.Parameter.empty


def not_route(f: F) -> F:
    """Keep a public method of a controller from becoming a route."""
    setattr(f, _NOT_ROUTE, True)
    return f


def methods(*names: str) -> Callable[[F], F]:
    """Answer only these HTTP methods (default ``GET``; ``HEAD`` follows ``GET``).

    Args:
        names: Method names, e.g. ``methods("GET", "POST")``.

    Raises:
        ValueError: No name, or a name that is not an HTTP method token.
    """
    upper = tuple(n.upper() for n in names)
    if not upper or not all(_TOKEN.fullmatch(n) for n in upper):
        raise ConfigurationError(f"invalid HTTP methods {names!r}")

    def decorate(f: F) -> F:
        setattr(f, _METHODS, upper)
        return f

    return decorate


@dataclass(frozen=True, slots=True)
class _Param:
    """A parameter filled from the query string or the form."""

    name: str
    kind: Any  # a scalar type
    many: bool  # list[...]
    default: Any


@dataclass(frozen=True, slots=True)
class _Spec:
    """How one method becomes a route."""

    attr: str
    pattern: str
    methods: tuple[str, ...] | None
    websocket: bool
    params: tuple[_Param, ...]
    mode: str  # "async", "sync" or "gen" (a generator: create it, never in a thread)
    typed: bool = False  # bound by junco.typed (bodies, headers, 422s) instead of _fill


class Controller(Junco):
    """A junco app whose public methods are its routes.

    Subclass it, define methods, create an instance and serve or mount it::

        class Root(Controller):
            async def index(self, request):
                return "home"

            async def greet(self, request, name, polite: bool = False):
                return f"Good day, {name}" if polite else f"hi {name}"

        app = Junco()
        app.mount(Root(), url_prefix="")

    Args:
        **options: Passed to :class:`~junco.Junco` (``debug``, limits, ...).

    Raises:
        TypeError: A method cannot be a route (see the module docs).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        reserved = _reserved_names()
        for klass in cls.__mro__:  # mixins listed before Controller included
            if klass is Controller:
                break
            for name, value in vars(klass).items():
                if name.startswith("_") or name not in reserved:
                    continue
                if inspect.isfunction(value) and getattr(value, _NOT_ROUTE, False):
                    continue
                raise ConfigurationError(
                    f"{klass.__name__}.{name} would hide Junco.{name}: call the method "
                    f"{name}_ (one trailing '_' is dropped from its URL), or mark a "
                    "deliberate override with @not_route"
                )

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.register_type("float", _FLOAT_PATH, _path_float)
        specs = [_spec(name, fn) for name, fn in _route_functions(type(self))]
        # Fixed prefixes first, so that an index with path segments cannot shadow them.
        specs.sort(key=lambda s: s.pattern.startswith("/<") or s.pattern == "/")
        for spec in specs:
            handler = getattr(self, spec.attr) if spec.typed else _endpoint(self, spec)
            self.add_route(spec.pattern, handler, list(spec.methods or ["GET"]))


# -- discovering routes --------------------------------------------------------------------


@functools.cache
def _reserved_names() -> frozenset[str]:
    """Every public attribute of a Junco app: class attributes and those set in ``__init__``."""
    names = set(dir(Junco)) | set(vars(Junco()))
    return frozenset(n for n in names if not n.startswith("_"))


def _route_functions(cls: type) -> Iterator[tuple[str, Callable[..., Any]]]:
    seen: set[str] = set()
    for klass in cls.__mro__:
        if klass is Controller:
            return
        for name, value in vars(klass).items():
            if name in seen:
                continue
            seen.add(name)  # an override of any kind hides the base class's method
            if name.startswith("_") or not inspect.isfunction(value):
                continue
            if getattr(value, _NOT_ROUTE, False):
                continue
            yield name, value


def _spec(name: str, fn: Callable[..., Any]) -> _Spec:
    websocket = name.startswith("ws_")
    base = (name[3:] if websocket else name).removesuffix("_")
    where = f"{fn.__qualname__}"
    if not base:
        raise ConfigurationError(f"{where}: the route name is empty")
    allowed = getattr(fn, _METHODS, None)
    if websocket and allowed is not None:
        raise ConfigurationError(f"{where}: @methods does not apply to WebSocket routes")
    if websocket and not inspect.iscoroutinefunction(fn):
        raise ConfigurationError(f"{where}: a WebSocket route must be an async method")
    params = list(inspect.signature(fn).parameters.values())
    fixed = 3 if websocket else 2  # self, request[, ws]
    hints = _hints(fn, [p.name for p in params[fixed:]], where)
    head = params[:fixed]
    if len(head) < fixed or any(p.kind not in _POSITIONAL for p in head):
        wanted = "(self, request, ws, ...)" if websocket else "(self, request, ...)"
        raise ConfigurationError(f"{where}: a controller route takes {wanted}")
    pattern = "" if base == "index" else "/" + base
    query: list[_Param] = []
    typed_ = not websocket and _wants_typed(fn, params[fixed:])
    for p in params[fixed:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise ConfigurationError(
                f"{where}: declare each parameter instead of *{p.name}/**{p.name}"
            )
        hint = hints.get(p.name, str)
        if typed_:
            if p.kind in _POSITIONAL and p.default is _MISSING and hint in _PATH_TYPES:
                pattern += f"/<{_PATH_TYPES[hint]}{p.name}>"
            continue  # everything else is junco.typed's to bind
        if p.kind in _POSITIONAL and p.default is _MISSING:
            if hint not in _PATH_TYPES:
                raise ConfigurationError(
                    f"{where}: path parameter {p.name!r} must be str, int or float"
                )
            pattern += f"/<{_PATH_TYPES[hint]}{p.name}>"
        else:
            kind, many = _query_type(hint, f"{where}: parameter {p.name!r}")
            query.append(_Param(p.name, kind, many, p.default))
    mode = "async"
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        mode = "gen"
    elif not inspect.iscoroutinefunction(fn):
        mode = "sync"
    return _Spec(name, pattern or "/", allowed, websocket, tuple(query), mode, typed_)


def _wants_typed(fn: Callable[..., Any], params: list[inspect.Parameter]) -> bool:
    """Whether a method needs :mod:`junco.typed`: a model, a header/cookie, a rich type."""
    raw = inspect.get_annotations(fn)
    if typed.returns_model(typed.resolve_annotation(fn, raw.get("return"))):
        return True
    for p in params:
        hint = typed.resolve_annotation(fn, raw.get(p.name))
        if hint is None:
            continue  # unannotated, or _hints reports what cannot be resolved
        if (
            typing.get_origin(hint) is typing.Annotated
            or typed.is_model(hint)
            or typed.is_upload(hint)
        ):
            return True
        try:
            _query_type(hint, "")
        except TypeError:
            if typed.is_scalar(hint):  # UUID, datetime, Literal...: typed reads those
                return True
    return False


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _hints(fn: Callable[..., Any], names: list[str], where: str) -> dict[str, Any]:
    """The evaluated annotations of the parameters in ``names``.

    ``request`` or the return value may be annotated with names imported under
    ``TYPE_CHECKING``; only the parameters filled from the URL must resolve.
    """
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = _evaluate_each(fn, names, where)
    for name in names:
        if isinstance(hints.get(name), str):  # a quoted annotation inside a string one
            raise ConfigurationError(f"{where}: cannot resolve the annotation of {name!r}")
    return hints


def _evaluate_each(fn: Callable[..., Any], names: list[str], where: str) -> dict[str, Any]:
    raw = inspect.get_annotations(fn)
    return {
        name: typed.resolve_annotation(fn, raw.get(name, str), f"{where}: parameter {name!r}")
        for name in names
    }


def _query_type(hint: Any, where: str) -> tuple[type, bool]:
    """``(scalar type, is_list)`` for an annotation, or TypeError."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1:
            raise ConfigurationError(f"{where}: unsupported annotation {hint!r}")
        return _query_type(args[0], where)
    if origin is list:
        (item,) = typing.get_args(hint) or (str,)
        if item not in _SCALARS:
            raise ConfigurationError(f"{where}: unsupported annotation {hint!r}")
        return item, True
    if hint is list:
        return str, True
    if hint not in _SCALARS:
        raise ConfigurationError(f"{where}: unsupported annotation {hint!r}")
    return hint, False


# -- calling routes ------------------------------------------------------------------------


def _endpoint(controller: Controller, spec: _Spec) -> Callable[..., Any]:
    """The handler junco calls: it fills the query/form parameters, then the method."""
    method = getattr(controller, spec.attr)
    params = spec.params

    if spec.websocket:

        async def ws_endpoint(request: Request, ws: Any, **url_args: Any) -> Any:
            return await method(request, ws, **url_args, **_fill(request, params, False))

        return with_websocket(functools.update_wrapper(ws_endpoint, method, updated=()))
    if spec.mode == "sync":  # junco runs it in a thread, arguments and all

        def sync_endpoint(request: Request, **url_args: Any) -> Any:
            return method(request, **url_args, **_fill(request, params, True))

        return functools.update_wrapper(sync_endpoint, method, updated=())
    if spec.mode == "gen":

        async def gen_endpoint(request: Request, **url_args: Any) -> Any:
            return method(request, **url_args, **_fill(request, params, True))

        return functools.update_wrapper(gen_endpoint, method, updated=())

    async def endpoint(request: Request, **url_args: Any) -> Any:
        return await method(request, **url_args, **_fill(request, params, True))

    return functools.update_wrapper(endpoint, method, updated=())


def _fill(request: Request, params: tuple[_Param, ...], use_form: bool) -> dict[str, Any]:
    """Values for the query/form parameters; 400 for a missing or malformed one."""
    out: dict[str, Any] = {}
    if not params:
        return out
    query = request.args
    for p in params:
        raw = query.getlist(p.name)
        if not raw and use_form:
            form = request.form
            if form is not None:
                raw = form.getlist(p.name)
        if not raw:
            if p.default is _MISSING:
                raise HTTPException(400, f"missing parameter {p.name!r}")
            out[p.name] = p.default
        elif p.many:
            out[p.name] = [_convert(p, v) for v in raw]
        else:
            out[p.name] = _convert(p, raw[0])
    return out


def _convert(p: _Param, value: str) -> Any:
    kind = p.kind
    if kind is str:
        return value
    try:
        if kind is int and _INT.fullmatch(value):
            return int(value)  # ValueError past 4300 digits
        if kind is float and _FLOAT.fullmatch(value):
            number = float(value)
            if math.isfinite(number):
                return number
        if kind is bool:
            lowered = value.lower()
            if lowered in _TRUE or lowered in _FALSE:
                return lowered in _TRUE
    except ValueError:
        pass
    raise HTTPException(400, f"invalid value for parameter {p.name!r}")


def _path_float(value: str) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


__all__ = ["Controller", "methods", "not_route"]
