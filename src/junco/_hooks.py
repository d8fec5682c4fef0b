"""Which hooks and error handlers apply to a request, given where its route lives.

An app's *effective* hooks are its own followed by those of every sub-app it
mounted with ``local=False`` (recursively, in mount order). A request whose route
sits in a chain of mounts gets the root's effective hooks, then the effective
hooks of each ``local=True`` mount along the chain: outer apps first. After-hooks
run in the reverse order (the innermost first), like nested middleware.

Plans are cached per chain and dropped whenever any app registers anything, so
mounting stays live without per-request work.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import Junco
    from .routing import Mount

Hook = tuple[Callable[..., Any], bool]  # (function, is_async)
ErrorHandlers = dict[Any, Callable[..., Any]]

_generation = itertools.count(1)
generation = [0]


def bump() -> None:
    """Invalidate every cached plan (called on any registration)."""
    generation[0] = next(_generation)


def is_async_callable(f: Any) -> bool:
    """True for coroutine functions and objects whose ``__call__`` is one."""
    while hasattr(f, "func") and not inspect.isfunction(f):  # functools.partial
        f = f.func
    return inspect.iscoroutinefunction(f) or inspect.iscoroutinefunction(
        getattr(f, "__call__", None)  # noqa: B004 - objects with async __call__
    )


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


def _effective(app: Junco) -> tuple[list[Hook], list[Hook], list[Hook], ErrorHandlers]:
    before = list(app.before_request_handlers)
    after = list(app.after_request_handlers)
    after_error = list(app.after_error_request_handlers)
    errors: ErrorHandlers = {}
    for mount in app.router.mounts:
        if mount.native and not mount.local:
            b, a, ae, e = _effective(mount.app)
            before += b
            after += a
            after_error += ae
            errors.update(e)
    errors.update(app.error_handlers)
    return before, after, after_error, errors


def build_plan(root: Junco, chain: tuple[Mount, ...]) -> Plan:
    before, after, after_error, errors = _effective(root)
    error_chain = [errors]
    for mount in chain:
        if mount.local:
            b, a, ae, e = _effective(mount.app)
            before += b
            after += a
            after_error += ae
            error_chain.append(e)
    run_after = tuple(reversed(after))
    return Plan(
        tuple(before),
        run_after,
        tuple(reversed(after_error)),
        tuple(reversed(error_chain)),
        _all_sync(before),
        _all_sync(run_after),
    )


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
