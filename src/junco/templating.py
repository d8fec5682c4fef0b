"""Jinja2 templates, configured per app or, Microdot's way, once per process.

::

    Templates(app, template_dir="templates")    # this app's templates
    Template.initialize("templates")            # Microdot's class-level setup

    @app.get("/")
    async def index(request):
        return Template("index.html").response(name="junco")

``Template(name)`` uses the :class:`Templates` of the app handling the current
request (a mounted sub-app's first, then the app's), else the class-level
environment, created with defaults on first use. So two apps with different
directories never see each other's templates, and a per-app setting wins.

A ``Templates`` created without ``template_dir`` inherits the class-level
environment (as an overlay, rebuilt if ``Template.initialize`` is called
again) and only adds its own globals and context processors: this is what
extensions get from :func:`add_template_global` when the app has no
``Templates`` yet. Creating one later keeps what was registered on the old one.

Autoescaping is on for ``.html``, ``.htm``, ``.xml``, ``.xhtml``, ``.svg``,
``.html.j2``, ``.html.jinja`` and for templates built from strings.
"""

from __future__ import annotations

import asyncio
import os
from collections import ChainMap
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .datastructures import HeaderInput, Headers
from .request import _current
from .response import Response

if TYPE_CHECKING:
    import jinja2

    from .app import Junco

INSTALL_HINT = 'templates need Jinja2: pip install "junco[templates]"'
HTML = "text/html; charset=UTF-8"
AUTOESCAPE_EXTENSIONS = ("html", "htm", "xml", "xhtml", "svg", "html.j2", "html.jinja")
_BATCH = 16 * 1024  # characters rendered per worker-thread hop by generate_async
TemplateDir = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
ContextProcessor = Callable[[], Mapping[str, Any]]


def _jinja() -> Any:
    try:
        import jinja2
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return jinja2


def _environment(
    template_dir: TemplateDir, enable_async: bool, options: Mapping[str, Any]
) -> jinja2.Environment:
    jinja = _jinja()
    settings = dict(options)
    settings.setdefault("loader", jinja.FileSystemLoader(template_dir))
    settings.setdefault(
        "autoescape", jinja.select_autoescape(AUTOESCAPE_EXTENSIONS, default_for_string=True)
    )
    env: jinja2.Environment = jinja.Environment(enable_async=enable_async, **settings)
    env.globals.update(_HELPERS)
    return env


def _helpers() -> dict[str, Any]:
    from .flash import get_flashed_messages
    from .urls import url_for_current

    return {"url_for": url_for_current, "get_flashed_messages": get_flashed_messages}


#: Globals of every template: ``url_for(name, **args)`` and ``get_flashed_messages()``.
_HELPERS = _helpers()


def _layered(top: dict[str, Any], below: Mapping[str, Any]) -> dict[str, Any]:
    """Globals that read through to ``below`` and are written to ``top``.

    Jinja annotates ``Environment.globals`` as a dict but only uses the
    mapping protocol on it (it builds a ChainMap over it itself).
    """
    return ChainMap(top, below)  # type: ignore[return-value, arg-type]


def _html(body: Any, status_code: int, headers: HeaderInput | Headers) -> Response:
    h = Headers(headers)
    h.setdefault("Content-Type", HTML)
    return Response(body, status_code, h)


class Templates:
    """Template settings of one app, kept in ``app.extensions['templates']``.

    Args:
        app: The app to configure (or call :meth:`init_app` later).
        template_dir: Directory (or list of directories) of templates. When
            omitted, the class-level environment of :class:`Template` is used
            as the base and ``jinja_options`` are applied over it.
        enable_async: Build an async Jinja environment (``render_async`` and
            ``generate_async`` then render without worker threads).
        error_template: A template for the error pages junco renders for
            browsers (404, 403, 429, 500, ...); it gets ``error`` (a
            :class:`junco.errors.ErrorInfo`) and ``request``.
        **jinja_options: Passed to ``jinja2.Environment`` (``loader``,
            ``autoescape``, ``undefined``, ...), overriding junco's defaults.

    Raises:
        ImportError: Jinja2 is not installed.
    """

    def __init__(
        self,
        app: Junco | None = None,
        template_dir: TemplateDir | None = None,
        enable_async: bool | None = None,
        error_template: str | None = None,
        **jinja_options: Any,
    ) -> None:
        _jinja()
        self._setup(template_dir, enable_async, jinja_options)
        self.error_template: str | None = error_template
        if app is not None:
            self.init_app(app)

    def _setup(
        self, template_dir: TemplateDir | None, enable_async: bool | None, options: dict[str, Any]
    ) -> None:
        self.template_dir = template_dir
        self.enable_async = enable_async
        self.jinja_options = options
        self.globals: dict[str, Any] = {}
        self.context_processors: list[ContextProcessor] = []
        self._env: jinja2.Environment | None = None
        self._base: jinja2.Environment | None = None

    def init_app(self, app: Junco) -> None:
        """Make these the templates of ``app``, keeping globals registered before."""
        previous = app.extensions.get("templates")
        if isinstance(previous, Templates) and previous is not self:
            self.globals = {**previous.globals, **self.globals}
            self.context_processors = previous.context_processors + self.context_processors
            self._env = None
        app.extensions["templates"] = self
        if self.error_template is not None:
            app.error_page = self.render_error_page

    def render_error_page(self, request: Any, error: Any) -> str:
        """The HTML of ``error_template`` for ``error`` (junco's error renderer calls it)."""
        assert self.error_template is not None
        return self.get_template(self.error_template).render(error=error, request=request)

    error_template: str | None = None

    @classmethod
    def of(cls, app: Junco) -> Templates:
        """The app's ``Templates``, created (inheriting the class-level setup) if missing."""
        found = app.extensions.get("templates")
        if isinstance(found, Templates):
            return found
        # No Jinja2 check here: extensions register globals whether or not
        # the app renders templates; using them without Jinja2 still fails.
        templates = cls.__new__(cls)
        templates._setup(None, None, {})
        templates.init_app(app)
        return templates

    @staticmethod
    def current(app: Junco | None = None) -> Templates | None:
        """The ``Templates`` of ``app``, or of the app handling the current request."""
        apps: tuple[Any, ...] = (app,)
        if app is None:
            request = _current.get()
            if request is None:
                return None
            apps = (request.subapp, request.app)
        for candidate in apps:
            found = getattr(candidate, "extensions", {}).get("templates")
            if isinstance(found, Templates):
                return found
        return None

    @property
    def env(self) -> jinja2.Environment:
        """This app's Jinja environment (built on first use)."""
        if self.template_dir is not None:
            if self._env is None:
                env = _environment(self.template_dir, bool(self.enable_async), self.jinja_options)
                env.globals = _layered(self.globals, env.globals)
                self._env = env
            return self._env
        base = Template.environment()
        if self._env is None or self._base is not base:
            options = dict(self.jinja_options)
            if self.enable_async is not None:
                options["enable_async"] = self.enable_async
            cache = base.cache
            size = -1 if isinstance(cache, dict) else getattr(cache, "capacity", 0)
            # A fresh cache: templates cached by the base are bound to its globals.
            env = base.overlay(cache_size=size, **options)
            env.globals = _layered(self.globals, base.globals)
            self._env, self._base = env, base
        return self._env

    def add_global(self, name: str, value: Any) -> None:
        """Make ``value`` available to every template of the app as ``name``.

        A callable is called by the template (``{{ csrf_field() }}``) each
        time it renders; use :func:`junco.current_request` inside it.
        """
        self.globals[name] = value

    def context_processor(self, f: ContextProcessor) -> ContextProcessor:
        """Register ``f()`` returning a mapping merged into every render's context.

        It runs at each render (the caller's values win), so it can compute
        per-request values such as ``current_user``. Usable as a decorator.
        """
        self.context_processors.append(f)
        return f

    def context(self) -> dict[str, Any]:
        """The values the context processors give now."""
        ctx: dict[str, Any] = {}
        for f in self.context_processors:
            ctx.update(f())
        return ctx

    def get_template(self, name: str, /, **kwargs: Any) -> Template:
        """A :class:`Template` from this app's environment, in or out of a request."""
        return Template._bound(name, self, kwargs)

    def render_template(
        self,
        name: str,
        /,
        *args: Any,
        status_code: int = 200,
        headers: HeaderInput | Headers = None,
        **kwargs: Any,
    ) -> Response:
        """Render ``name`` into an HTML response (``text/html; charset=UTF-8``)."""
        return self.get_template(name).response(
            *args, status_code=status_code, headers=headers, **kwargs
        )


class Template:
    """A template, rendered as a string, a stream or an HTML response (Microdot's API).

    Args:
        template: The template's name, relative to the template directory.
        app: Use this app's templates instead of the current request's.
        **kwargs: Passed to Jinja's ``get_template`` (``parent``, ``globals``).

    Raises:
        ImportError: Jinja2 is not installed.
        jinja2.TemplateNotFound: no such template.
    """

    #: The class-level Jinja environment (Microdot's); see :meth:`initialize`.
    jinja_env: ClassVar[jinja2.Environment | None] = None

    @classmethod
    def initialize(
        cls,
        template_dir: TemplateDir = "templates",
        enable_async: bool = False,
        **jinja_options: Any,
    ) -> None:
        """Set up the class-level environment, used where no app has its own.

        Args:
            template_dir: Directory (or directories) of templates.
            enable_async: Build an async Jinja environment.
            **jinja_options: Passed to ``jinja2.Environment``.
        """
        Template.jinja_env = _environment(template_dir, enable_async, jinja_options)

    @classmethod
    def environment(cls) -> jinja2.Environment:
        """The class-level environment, initialised with defaults if needed."""
        if Template.jinja_env is None:
            cls.initialize()
        env = Template.jinja_env
        if env is None:  # pragma: no cover - initialize always sets it
            raise RuntimeError("Template.initialize() did not set up an environment")
        return env

    def __init__(self, template: str, *, app: Junco | None = None, **kwargs: Any) -> None:
        templates = Templates.current(app)
        env = templates.env if templates is not None else self.environment()
        #: The template's name.
        self.name = template
        #: The app templates it came from (``None``: the class-level environment).
        self.templates = templates
        #: The Jinja template.
        self.template = env.get_template(template, **kwargs)

    @classmethod
    def _bound(cls, name: str, templates: Templates, kwargs: Mapping[str, Any]) -> Template:
        self = cls.__new__(cls)
        self.name = name
        self.templates = templates
        self.template = templates.env.get_template(name, **kwargs)
        return self

    def _context(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        ctx = self.templates.context() if self.templates is not None else {}
        ctx.update(dict(*args, **kwargs))
        return ctx

    def render(self, *args: Any, **kwargs: Any) -> str:
        """Render to a string (an async environment needs :meth:`render_async`)."""
        return self.template.render(self._context(args, kwargs))

    def generate(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        """Render in chunks, as a generator of strings."""
        return self.template.generate(self._context(args, kwargs))

    async def render_async(self, *args: Any, **kwargs: Any) -> str:
        """Render to a string without blocking the loop (a worker thread if not async)."""
        ctx = self._context(args, kwargs)
        if self.template.environment.is_async:
            return await self.template.render_async(ctx)
        return await asyncio.to_thread(self.template.render, ctx)

    def generate_async(self, *args: Any, **kwargs: Any) -> AsyncIterator[str]:
        """Render in chunks, as an async iterator of strings."""
        ctx = self._context(args, kwargs)
        if self.template.environment.is_async:
            return self.template.generate_async(ctx)
        return _in_threads(self.template.generate(ctx))

    def response(
        self,
        *args: Any,
        status_code: int = 200,
        headers: HeaderInput | Headers = None,
        **kwargs: Any,
    ) -> Response:
        """Render into a ``text/html; charset=UTF-8`` response."""
        return _html(self.render(*args, **kwargs), status_code, headers)

    async def response_async(
        self,
        *args: Any,
        status_code: int = 200,
        headers: HeaderInput | Headers = None,
        **kwargs: Any,
    ) -> Response:
        """Like :meth:`response`, rendered with :meth:`render_async`."""
        return _html(await self.render_async(*args, **kwargs), status_code, headers)

    def stream_response(
        self,
        *args: Any,
        status_code: int = 200,
        headers: HeaderInput | Headers = None,
        **kwargs: Any,
    ) -> Response:
        """An HTML response rendered while it is sent (stops if the client leaves)."""
        return _html(self.generate_async(*args, **kwargs), status_code, headers)


def _take(chunks: Iterator[str], limit: int) -> str:
    out: list[str] = []
    size = 0
    for chunk in chunks:
        out.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return "".join(out)


async def _in_threads(chunks: Iterator[str]) -> AsyncIterator[str]:
    """Drive a sync generator from worker threads, a batch of output per hop."""
    while True:
        batch = await asyncio.to_thread(_take, chunks, _BATCH)
        if not batch:
            return
        yield batch


def render_template(
    name: str,
    /,
    *args: Any,
    status_code: int = 200,
    headers: HeaderInput | Headers = None,
    **kwargs: Any,
) -> Response:
    """``Template(name).response(...)``: an HTML response."""
    return Template(name).response(*args, status_code=status_code, headers=headers, **kwargs)


async def render_template_async(
    name: str,
    /,
    *args: Any,
    status_code: int = 200,
    headers: HeaderInput | Headers = None,
    **kwargs: Any,
) -> Response:
    """``await Template(name).response_async(...)``: an HTML response."""
    return await Template(name).response_async(
        *args, status_code=status_code, headers=headers, **kwargs
    )


def add_template_global(app: Junco, name: str, value: Any) -> None:
    """Give every template of ``app`` the global ``name`` (for extensions: ``csrf_field``)."""
    Templates.of(app).add_global(name, value)


def add_context_processor(app: Junco, f: ContextProcessor) -> None:
    """Merge ``f()`` into the context of every template ``app`` renders."""
    Templates.of(app).context_processor(f)


__all__ = [
    "Template",
    "Templates",
    "add_context_processor",
    "add_template_global",
    "render_template",
    "render_template_async",
]
