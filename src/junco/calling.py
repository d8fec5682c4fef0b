"""How junco calls user code: two policies, decided here and nowhere else.

**Endpoints** — route handlers and what stands in for them (typed-binding
wrappers, ``@auth`` guards, ``@with_form_data``), and user callbacks that may
do I/O (credential verifiers, permission policies):

- a coroutine function (or an object whose ``__call__`` is one) is awaited;
- a generator or async generator function is called inline: creating a
  generator never blocks, and its iteration is the response's business;
- any other callable runs in a worker thread (``asyncio.to_thread``) so a
  blocking call cannot stall the event loop; if it returns an awaitable,
  that is awaited.

**Hooks** — ``before_request``/``after_request``/``after_error_request``
hooks, error handlers, lifespan handlers and small callbacks (rate-limit
keys, audit sinks): called inline on the event loop, and an awaitable
result is awaited. A hook that blocks should be an ``async def`` that
offloads its blocking part; running every hook in a thread would cost a
thread hop per hook per request.

Callers that call the same function on every request decide
:func:`is_async_callable` once (at registration) and pass it in.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any


def is_async_callable(f: Any) -> bool:
    """True for coroutine functions and objects whose ``__call__`` is one."""
    while hasattr(f, "func") and not inspect.isfunction(f):  # functools.partial
        f = f.func
    return inspect.iscoroutinefunction(f) or inspect.iscoroutinefunction(
        getattr(f, "__call__", None)  # noqa: B004 - objects with async __call__
    )


async def call_endpoint(
    fn: Callable[..., Any], is_async: bool | None, /, *args: Any, **kwargs: Any
) -> Any:
    """Call ``fn`` under the endpoint policy (sync → worker thread).

    Args:
        fn: The handler or callback.
        is_async: ``is_async_callable(fn)`` when the caller already knows it,
            else ``None``.
        *args: Positional arguments for ``fn``.
        **kwargs: Keyword arguments for ``fn``.
    """
    if is_async if is_async is not None else is_async_callable(fn):
        return await fn(*args, **kwargs)
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        return fn(*args, **kwargs)
    rv = await asyncio.to_thread(fn, *args, **kwargs)
    if inspect.isawaitable(rv):
        rv = await rv
    return rv


async def call_hook(fn: Callable[..., Any], is_async: bool, /, *args: Any) -> Any:
    """Call ``fn`` under the hook policy (inline; an awaitable result is awaited)."""
    if is_async:
        return await fn(*args)
    rv = fn(*args)
    if rv is not None and inspect.isawaitable(rv):
        rv = await rv
    return rv


async def call_callback(fn: Callable[..., Any], /, *args: Any) -> Any:
    """:func:`call_hook` for a callback whose kind is not known in advance."""
    rv = fn(*args)
    if rv is not None and inspect.isawaitable(rv):
        rv = await rv
    return rv


__all__ = ["call_callback", "call_endpoint", "call_hook", "is_async_callable"]
