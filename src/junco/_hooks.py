"""Which hooks and error handlers apply to a request, given where its route lives.

An app's *effective* hooks are its own followed by those of every sub-app it
mounted with ``local=False`` (recursively, in mount order). A request whose route
sits in a chain of mounts gets the root's effective hooks, then the effective
hooks of each ``local=True`` mount along the chain: outer apps first. Then the
phases (:mod:`junco.phases`) order them all: a stable sort by phase, so a
``ProxyHeaders`` on a mounted app still runs before the parent's own hooks.
After-hooks run in the reverse order (the innermost first), like nested
middleware. Building a plan also checks what components ``require``.

Plans are cached per app and chain. Each app keeps its own version: any change
to it (a hook appended through a decorator or straight to one of Microdot's
hook lists, an error handler, a mount) bumps the version and drops the cached
plans of that app and of every app it is mounted in, since theirs include its
hooks. So late registration works, mounting stays live, and a request pays
nothing for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from .calling import is_async_callable
from .phases import Phase, PhaseTable, check_requirements, hook_phase, position

if TYPE_CHECKING:
    from .app import Junco
    from .routing import Mount

Hook = tuple[Callable[..., Any], bool]  # (function, is_async)
C = TypeVar("C")
ErrorHandlers = dict[Any, Callable[..., Any]]


class _Owner(Protocol):
    def _changed(self) -> None: ...


class HookList(list[Callable[..., Any]]):
    """One of an app's hook lists: a plain list that tells its app when it changes.

    Microdot code appends to ``app.before_request_handlers`` directly; that
    must work after the first request as well as before. The list also knows
    the phase of each hook ``add_middleware`` placed in it (the rest are
    ``Phase.APP``). It is kept here rather than on the app: one more app
    attribute would take the app's ``__dict__`` past the 30 keys CPython
    shares between instances, and every attribute read of the plain path
    would slow down.
    """

    __slots__ = ("_owner", "_phases")

    def __init__(self, owner: _Owner, items: Iterable[Callable[..., Any]] = ()) -> None:
        super().__init__(items)
        self._owner = owner
        self._phases: PhaseTable = {}

    def place(self, fn: Callable[..., Any], phase: Phase) -> None:
        """Insert ``fn`` at the end of ``phase``: after every hook of its phase or earlier."""
        self._phases[id(fn)] = (fn, phase)
        self.insert(position(self, self._phases, phase), fn)

    def phase_of(self, fn: Callable[..., Any]) -> Phase:
        """The phase ``fn`` was placed in (``Phase.APP`` for a hook added any other way)."""
        return hook_phase(self._phases, fn)


class HandlerDict(dict[Any, Callable[..., Any]]):
    """An app's ``error_handlers``: a plain dict that tells its app when it changes."""

    __slots__ = ("_owner",)

    def __init__(
        self, owner: _Owner, items: Mapping[Any, Callable[..., Any]] | None = None
    ) -> None:
        super().__init__(items or {})
        self._owner = owner


class Tracked(Generic[C]):
    """An app attribute holding a :class:`HookList` or :class:`HandlerDict`.

    Assigning a plain list or dict wraps it and tells the app, so
    ``app.before_request_handlers = [...]`` works like appending.
    """

    def __init__(self, factory: Callable[[Any, Any], C]) -> None:
        self.factory = factory
        self.slot = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, obj: Any, objtype: type | None = None) -> C:
        if obj is None:  # looked up on the class (introspection, docs)
            return self  # type: ignore[return-value]
        return obj.__dict__[self.slot]  # type: ignore[no-any-return]

    def __set__(self, obj: Any, value: Any) -> None:
        new = self.factory(obj, value)
        old = obj.__dict__.get(self.slot)
        if isinstance(new, HookList) and isinstance(old, HookList):
            new._phases = old._phases  # hooks kept from the old list keep their phase
        obj.__dict__[self.slot] = new
        obj._changed()


def _notifying(base: type, name: str) -> Callable[..., Any]:
    method = getattr(base, name)

    def mutate(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = method(self, *args, **kwargs)
        self._owner._changed()
        return result

    mutate.__name__ = name
    return mutate


_LIST_MUTATORS = (
    *("append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse"),
    *("__setitem__", "__delitem__", "__iadd__", "__imul__"),
)
_DICT_MUTATORS = ("__setitem__", "__delitem__", "update", "pop", "popitem", "clear", "setdefault")
for _name in _LIST_MUTATORS:
    setattr(HookList, _name, _notifying(list, _name))
for _name in (*_DICT_MUTATORS, "__ior__"):
    setattr(HandlerDict, _name, _notifying(dict, _name))


@dataclass(frozen=True, slots=True)
class Plan:
    before: tuple[Hook, ...]
    after: tuple[Hook, ...]  # already in run order (reversed)
    after_error: tuple[Hook, ...]
    errors: tuple[ErrorHandlers, ...]  # innermost app first
    # The hooks as plain functions when none is async: the dispatcher then
    # runs them in a loop of its own, without awaiting a coroutine per stage.
    sync_before: tuple[Callable[..., Any], ...] | None = None
    sync_after: tuple[Callable[..., Any], ...] | None = None
    # The router's own errors (404, 405) that no error handler here answers:
    # junco renders those itself, without raising (junco._dispatch.route_error).
    unhandled: frozenset[int] = frozenset()


def _effective(app: Junco) -> tuple[list[Junco], ErrorHandlers]:
    """The app and its ``local=False`` mounts (recursively, in mount order), and their
    error handlers (the app's own win)."""
    apps = [app]
    errors: ErrorHandlers = {}
    for mount in app.router.mounts:
        if mount.native and not mount.local:
            sub_apps, e = _effective(mount.app)
            apps += sub_apps
            errors.update(e)
    errors.update(app.error_handlers)
    return apps, errors


def _ordered(apps: list[Junco], hooks: Callable[[Junco], HookList]) -> list[Hook]:
    """The hooks of ``apps`` in phase order; within a phase, outer apps and earlier hooks first."""
    found = [(fn, hook_list.phase_of(fn)) for hook_list in map(hooks, apps) for fn in hook_list]
    found.sort(key=lambda entry: entry[1])  # stable: registration order within a phase
    return [(fn, is_async_callable(fn)) for fn, _ in found]


def build_plan(root: Junco, chain: tuple[Mount, ...]) -> Plan:
    """The hooks and error handlers of a route reached from ``root`` through ``chain``.

    Raises:
        ConfigurationError: a component's ``requires`` is installed on none of
            the apps whose hooks the plan runs (see :mod:`junco.phases`).
    """
    apps, errors = _effective(root)
    error_chain = [errors]
    for mount in chain:
        if mount.local:
            local_apps, e = _effective(mount.app)
            apps += local_apps
            error_chain.append(e)
    check_requirements(apps)
    before = _ordered(apps, lambda app: app.before_request_handlers)
    run_after = tuple(reversed(_ordered(apps, lambda app: app.after_request_handlers)))
    after_error = _ordered(apps, lambda app: app.after_error_request_handlers)
    plan = Plan(
        tuple(before),
        run_after,
        tuple(reversed(after_error)),
        tuple(reversed(error_chain)),
        _all_sync(before),
        _all_sync(run_after),
    )
    from .exceptions import HTTPException

    unhandled = (s for s in (404, 405) if find_error_handler(plan, HTTPException(s), s) is None)
    return replace(plan, unhandled=frozenset(unhandled))


def build_all(app: Junco) -> None:
    """Build (and cache) the plan of every route ``app`` can reach: at start-up, so a
    missing requirement fails the start rather than the first request.

    Raises:
        ConfigurationError: see :func:`build_plan`.
    """
    app.root_plan()

    def walk(sub: Junco, chain: tuple[Mount, ...], seen: frozenset[int]) -> None:
        for mount in sub.router.mounts:
            if mount.native and id(mount.app) not in seen:
                inner = (*chain, mount)
                app.plan_for(inner)
                walk(mount.app, inner, seen | {id(mount.app)})

    walk(app, (), frozenset((id(app),)))


def _all_sync(hooks: list[Hook] | tuple[Hook, ...]) -> tuple[Callable[..., Any], ...] | None:
    if not hooks or any(is_async for _, is_async in hooks):
        return None
    return tuple(fn for fn, _ in hooks)


def find_error_handler(
    plan: Plan, exc: BaseException | None, status: int
) -> tuple[Callable[..., Any], bool] | None:
    """The handler for ``exc`` or ``status``; ``(handler, takes_exception)`` or None.

    An ``HTTPException`` (or no exception) is matched by status first, then by
    class; any other exception by class first (most specific along the MRO),
    then by ``status`` (500).
    """
    from .exceptions import HTTPException

    by_status = exc is None or isinstance(exc, HTTPException)
    if by_status:
        found = _by_status(plan, status)
        if found is not None:
            return found, False
    if exc is not None:
        for cls in type(exc).__mro__:
            if by_status and not issubclass(cls, HTTPException):
                break  # errorhandler(Exception) is for bugs, not for 404s
            for handlers in plan.errors:
                if cls in handlers:
                    return handlers[cls], True
    if not by_status:
        found = _by_status(plan, status)
        if found is not None:
            return found, False
    return None


def _by_status(plan: Plan, status: int) -> Callable[..., Any] | None:
    for handlers in plan.errors:
        if status in handlers:
            return handlers[status]
    return None
