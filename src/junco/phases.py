"""The order of policies: named phases that hook-bearing components declare.

A component added with ``app.add_middleware(obj)`` may say where its hooks
belong with a class attribute ``phase`` (a :class:`Phase`), and what it cannot
work without with ``requires`` (component types, found by type in the app's
component registry, :meth:`junco.app.Junco.component`)::

    class Tenant:
        phase = Phase.SESSION
        requires = (Session,)

        def before_request(self, request): ...

Before-hooks run phase by phase, in the order of :class:`Phase`; within a
phase, in registration order. After-hooks unwind the other way (the last
phase's run first), so every component's before- and after-hook nest like
layers of an onion whatever order the components were added in. A hook with
no phase (every ``@app.before_request`` function, any object without
``phase``) is :attr:`Phase.APP`: the last before the handler, the first after
it. ``add_middleware`` inserts each hook at its phase's end of Microdot's hook
lists, so ``app.before_request_handlers`` shows the order hooks run in, and
plans (``junco._hooks``) order the hooks of mounted apps the same way.

A requirement that is not installed on the app (or on an app whose hooks
reach the route) is a :class:`~junco.exceptions.ConfigurationError` naming
what to add, raised when the plan is built: at app start-up (lifespan) or, at
the latest, at the first request. Never a silent misorder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from .app import Junco


class Phase(IntEnum):
    """Where a component's hooks run; before-hooks in this order, after-hooks reversed.

    Each phase exists because something later depends on it:

    - ``OBSERVE``: sees the request first and the final response last, so a
      duration covers everything and a record shows refusals too (``Audit``).
    - ``TRANSPORT``: facts about the request every later phase reads, never a
      refusal: the real client, scheme and host from a trusted proxy
      (``ProxyHeaders``), the request id (``RequestID``), the CSP nonce
      (``CSPNonce``: after-hook only; here so that it merges the nonce into
      the policy after every phase that may set one or draw a nonce).
    - ``HOST``: the first refusal, "is this request for us at all"
      (``AllowedHosts``); after ``TRANSPORT``, which may have taken the host
      from the proxy.
    - ``GUARD``: cheap refusals before any state is loaded (``RateLimit``)
      and the static response headers (``SecurityHeaders``, whose policy is
      then complete when ``CSPNonce`` merges its nonce).
    - ``SESSION``: loads the session before anything reads it, commits it
      after everything that writes it (``Session``).
    - ``AUTH``: who may do what: ``CSRF`` (its tokens live in the session)
      and ``CORS`` (preflights carry no cookies, so loading the session
      first costs them nothing; its after-hook runs before the session's
      commit and can still add its headers as encoded pairs).
    - ``APP``: the app's own hooks and any component that declares no phase.
    """

    OBSERVE = 100
    TRANSPORT = 200
    HOST = 300
    GUARD = 400
    SESSION = 500
    AUTH = 600
    APP = 700


#: What each of an app's hook lists keeps of its hooks' phases: ``id(fn) -> (fn, phase)``.
#: (The function is kept so the id cannot be reused while the entry exists.)
PhaseTable = dict[int, tuple[Callable[..., Any], Phase]]


def phase_of(component: Any) -> Phase:
    """The phase ``component`` declares (``Phase.APP`` when it declares none).

    Raises:
        ConfigurationError: ``phase`` is not a :class:`Phase`.
    """
    phase = getattr(component, "phase", Phase.APP)
    if not isinstance(phase, Phase):
        raise ConfigurationError(
            f"{_label(component)}.phase must be a junco.phases.Phase, not {phase!r}"
        )
    return phase


def hook_phase(table: PhaseTable, fn: Callable[..., Any]) -> Phase:
    """The phase ``fn`` was registered in (``Phase.APP`` for a plain hook)."""
    entry = table.get(id(fn))
    return entry[1] if entry is not None and entry[0] is fn else Phase.APP


def position(hooks: list[Callable[..., Any]], table: PhaseTable, phase: Phase) -> int:
    """Where a hook of ``phase`` goes in ``hooks``: after the last one of its phase or earlier."""
    at = len(hooks)
    while at > 0 and hook_phase(table, hooks[at - 1]) > phase:
        at -= 1
    return at


def check_requirements(apps: Iterable[Junco]) -> None:
    """Refuse a component whose ``requires`` is not installed on any of ``apps``.

    ``apps`` are those whose hooks one plan runs: a requirement may be met by
    any of them (a ``Session`` on the parent serves a ``CSRF`` on a mounted app).

    Raises:
        ConfigurationError: naming the component and what to add.
    """
    installed: list[Any] = []
    for app in apps:
        installed += [*app.extensions.values(), *app.middleware]
    for component in installed:
        for kind in requirements(component):
            if not any(isinstance(other, kind) for other in installed):
                name = kind.__name__
                raise ConfigurationError(
                    f"{_label(component)} needs {name}, and none is installed on this app: "
                    f"add {name}(app, ...) (in any order: phases order the hooks)"
                )


def requirements(component: Any) -> tuple[type, ...]:
    """The component types ``component`` declares it ``requires`` (a tuple of classes).

    Anything else under that name is not a declaration (``Login.requires`` is
    a decorator for permissions) and counts as none.
    """
    declared = getattr(component, "requires", ())
    if isinstance(declared, tuple) and all(isinstance(kind, type) for kind in declared):
        return declared
    return ()


def _label(component: Any) -> str:
    label = getattr(component, "label", None)
    return label if isinstance(label, str) else type(component).__name__


__all__ = ["Phase", "check_requirements", "phase_of"]
