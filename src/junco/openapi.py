"""OpenAPI 3.1 documents generated from an app's routes, and an offline ``/docs`` page.

::

    app = Junco()
    api = OpenAPI(app, title="Shop", version="1.0")   # /openapi.json and /docs

The document is built from what junco already knows: URL patterns and their
converters (``<int:id>`` is an integer path parameter; a custom type's schema
is given with ``app.register_type(..., schema={...})``), the bindings of typed
handlers (:mod:`junco.typed`: query, header and cookie parameters, request
bodies, return types, the 422), the guards on routes (``BasicAuth``,
``TokenAuth`` and ``Login`` become security schemes with their 401/403),
docstrings (first line the summary, the rest the description), and mounts
(a mounted app's routes are tagged with its name). It is built on first
request, again only after routes change, and ``servers`` follows the
request's ``root_path`` and mount prefix.

``/docs`` is Swagger UI 5 served from the files of the installed
``swagger-ui-py`` package, never a CDN; its scripts carry the request's CSP
nonce, and no inline script or style is used, so it works offline and under
``secure_stack``'s policy.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from .routing import Mount, Route, Router
from .typed import Binding, Param, binding_of, is_model

F = TypeVar("F", bound=Callable[..., Any])
_ARG = re.compile(r"<([^<>]+)>")
_META = "_junco_openapi"
_REF = "#/components/schemas/{name}"
_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "code", "message"],
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string"},
                "message": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["loc", "msg"],
                        "properties": {
                            "loc": {
                                "type": "array",
                                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                            },
                            "msg": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}
_PATH_SCHEMAS = {"int": {"type": "integer"}, "float": {"type": "number"}}
_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


def operation(
    *,
    status: int | None = None,
    responses: dict[int, str] | None = None,
    tags: list[str] | None = None,
    summary: str | None = None,
    description: str | None = None,
    deprecated: bool = False,
    exclude: bool = False,
) -> Callable[[F], F]:
    """Add to (or hide) a route's operation in the document; put it under ``@app.route``.

    Args:
        status: The success status (default 200).
        responses: More statuses it answers with, and what they mean (``{404: "no such note"}``).
        tags: Tags instead of the mount's name.
        summary: Instead of the docstring's first line.
        description: Instead of the rest of the docstring.
        deprecated: Mark the operation deprecated.
        exclude: Leave the route out of the document.
    """
    meta = {
        "status": status,
        "responses": dict(responses or {}),
        "tags": tags,
        "summary": summary,
        "description": description,
        "deprecated": deprecated,
        "exclude": exclude,
    }

    def decorate(f: F) -> F:
        setattr(f, _META, meta)
        return f

    return decorate


class OpenAPI:
    """Serve the app's OpenAPI 3.1 document and an interactive page for it.

    Args:
        app: The junco app (or controller) to describe.
        title: The API's title.
        version: The API's version (not the OpenAPI version).
        description: A longer description (Markdown).
        path: Where the JSON document is served; ``None`` for nowhere.
        docs_path: Where the Swagger UI page is served; ``None`` for nowhere.
        exclude: Path prefixes left out of the document.
    """

    def __init__(
        self,
        app: Any,
        *,
        title: str = "API",
        version: str = "0.1.0",
        description: str | None = None,
        path: str | None = "/openapi.json",
        docs_path: str | None = "/docs",
        exclude: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.title = title
        self.version = version
        self.description = description
        self.path = path
        self.docs_path = docs_path
        self.exclude = tuple(exclude)
        self._cache: tuple[int, dict[str, Any]] | None = None
        hidden = operation(exclude=True)
        if path is not None:

            async def openapi_document(request: Any) -> Any:
                doc = self.document()
                base = request.root_path + request.url_prefix
                return {**doc, "servers": [{"url": base}]} if base else doc

            app.add_route(path, hidden(openapi_document))
        if docs_path is not None:
            from ._openapi_ui import docs_routes

            for pattern, handler in docs_routes(self, docs_path):
                app.add_route(pattern, hidden(handler))
        app.extensions["openapi"] = self

    def document(self) -> dict[str, Any]:
        """The OpenAPI document (rebuilt only after routes or hooks change)."""
        # The app's version moves with any change to it or to an app mounted in it.
        gen = self.app._version
        if self._cache is None or self._cache[0] != gen:
            self._cache = (gen, _Builder(self).build())
        return self._cache[1]


class _Builder:
    """One pass over the routes; collects schemas and security schemes on the way."""

    def __init__(self, api: OpenAPI) -> None:
        self.api = api
        self.types: list[Any] = []
        self.pydantic: dict[str, Any] = {}
        self.security: dict[str, dict[str, Any]] = {}
        self.guards: dict[int, str] = {}
        self.op_ids: set[str] = set()

    def build(self) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for pattern, route, tag in _walk(self.api.app.router, "", _tag(self.api.app)):
            meta = _meta(route.handler)
            other_protocol = route.protocol != "http"
            if other_protocol or meta.get("exclude") or pattern.startswith(self.api.exclude):
                continue
            item = paths.setdefault(_openapi_path(pattern), {})
            for method in route.methods:
                if method.lower() not in item:
                    item[method.lower()] = self.operation(pattern, route, method, tag, meta)
        doc: dict[str, Any] = {
            "openapi": "3.1.0",
            "info": {"title": self.api.title, "version": self.api.version},
            "paths": paths,
        }
        if self.api.description:
            doc["info"]["description"] = self.api.description
        components = self.components(paths)
        if components:
            doc["components"] = components
        return doc

    def operation(
        self, pattern: str, route: Route, method: str, tag: str | None, meta: dict[str, Any]
    ) -> dict[str, Any]:
        binding = binding_of(route.handler)
        fn = _innermost(route.handler)
        summary, description = _doc(fn)
        op: dict[str, Any] = {"operationId": self.op_id(fn, method)}
        tags = meta.get("tags") or ([tag] if tag else None)
        if tags:
            op["tags"] = tags
        if meta.get("summary") or summary:
            op["summary"] = meta.get("summary") or summary
        if meta.get("description") or description:
            op["description"] = meta.get("description") or description
        if meta.get("deprecated"):
            op["deprecated"] = True
        params = self.path_params(route)
        if binding is not None:
            params += self.bound_params(binding)
            body = self.request_body(binding)
            if body is not None:
                op["requestBody"] = body
        if params:
            op["parameters"] = params
        op["responses"] = self.responses(route, binding, meta, bool(route.pattern.args))
        security = self.guard(route.handler)
        if security is not None:
            op["security"] = [{security: []}]
            status = getattr(_guard_of(route.handler), "error_status", 401)
            op["responses"].setdefault(str(status), {"description": "not authenticated"})
            if _guard_of(route.handler).__class__.__name__ == "Login":
                op["responses"].setdefault("403", {"description": "not allowed"})
        return op

    def op_id(self, fn: Any, method: str) -> str:
        base = f"{getattr(fn, '__name__', 'handler')}_{method.lower()}"
        name, n = base, 1
        while name in self.op_ids:
            n += 1
            name = f"{base}_{n}"
        self.op_ids.add(name)
        return name

    def path_params(self, route: Route) -> list[dict[str, Any]]:
        schemas = self.api.app.extensions.get("junco.path_schemas", {})
        out = []
        for spec in _ARG.findall(route.pattern.url_pattern):
            if spec.startswith("re:"):
                regex, _, name = spec[3:].rpartition(":")
                schema: dict[str, Any] = {"type": "string", "pattern": f"^(?:{regex})$"}
            else:
                kind, _, name = spec.rpartition(":")
                schema = dict(schemas.get(kind) or _PATH_SCHEMAS.get(kind) or {"type": "string"})
                if kind == "int":
                    schema.setdefault("format", "int64")
                    schema.setdefault("minimum", -(2**63))
                    schema.setdefault("maximum", 2**63 - 1)
            out.append({"name": name, "in": "path", "required": True, "schema": schema})
        return out

    def request_body(self, binding: Binding) -> dict[str, Any] | None:
        """JSON, and for flat models the two form encodings; with files, multipart only."""
        from ._typed_body import file_fields, is_flat

        t, files = binding.body_type, _files_schema(binding.files)
        if t is None and files is None:
            return None
        content: dict[str, Any] = {}
        if t is None:
            content[_MULTIPART] = {"schema": files}
        else:
            model = self.schema(t)
            uploads = files is not None or bool(file_fields(t))
            if is_flat(t):
                if not uploads:
                    content["application/json"] = {"schema": model}
                    content[_FORM] = {"schema": model}
                content[_MULTIPART] = {
                    "schema": model if files is None else {"allOf": [model, files]}
                }
            else:
                content["application/json"] = {"schema": model}
        required = (t is not None and binding.body_required) or any(
            p.required for p in binding.files
        )
        return {"required": required, "content": content}

    def bound_params(self, binding: Binding) -> list[dict[str, Any]]:
        out = []
        for p in binding.params:
            entry: dict[str, Any] = {
                "name": p.key,
                "in": p.source,
                "required": p.required,
                "schema": self.schema(p.annotation),
            }
            if p.many:
                entry["style"], entry["explode"] = "form", True
            out.append(entry)
        return out

    def responses(
        self, route: Route, binding: Binding | None, meta: dict[str, Any], has_path: bool
    ) -> dict[str, Any]:
        ok = str(meta.get("status") or 200)
        success: dict[str, Any] = {"description": "OK"}
        if binding is not None and binding.response_type is not None:
            success["content"] = {
                "application/json": {"schema": self.schema(binding.response_type)}
            }
        out: dict[str, Any] = {ok: success}
        error = {"application/json": {"schema": {"$ref": _REF.format(name="Error")}}}
        has_body = binding is not None and (binding.body_type is not None or bool(binding.files))
        if binding is not None and (binding.params or has_body):
            out["422"] = {"description": "the request is not valid", "content": error}
        if has_body:
            out["400"] = {"description": "malformed JSON"}
            out["413"] = {"description": "the body is too large"}
            out["415"] = {"description": "the body is not JSON or a form"}
        if has_path:
            out["404"] = {"description": "not found"}
        for status, text in meta.get("responses", {}).items():
            out.setdefault(str(status), {"description": text})
        return out

    def guard(self, handler: Any) -> str | None:
        guard = _guard_of(handler)
        if guard is None:
            return None
        key = id(guard)
        if key not in self.guards:
            kind = type(guard).__name__
            name = kind if kind not in self.security else f"{kind}{len(self.security) + 1}"
            self.security[name] = _security_scheme(guard)
            self.guards[key] = name
        return self.guards[key]

    def schema(self, t: Any) -> dict[str, Any]:
        origin, args = typing.get_origin(t), typing.get_args(t)
        if origin in (list, tuple) and args and hasattr(args[0], "model_json_schema"):
            return {"type": "array", "items": self.schema(args[0])}  # pydantic items
        if origin in (typing.Union, types.UnionType) and any(
            hasattr(a, "model_json_schema") for a in args
        ):
            return {"anyOf": [self.schema(a) for a in args]}
        if t is type(None):
            return {"type": "null"}
        if is_model(t) and hasattr(t, "model_json_schema"):
            name = t.__name__
            schema = t.model_json_schema(ref_template=_REF.replace("{name}", "{model}"))
            self.pydantic.update(schema.pop("$defs", {}))
            self.pydantic[name] = schema
            return {"$ref": _REF.format(name=name)}
        self.types.append(t)
        return {"__junco_type__": len(self.types) - 1}

    def components(self, paths: dict[str, Any]) -> dict[str, Any]:
        from .typed import _msgspec

        schemas: dict[str, Any] = {"Error": _ERROR_SCHEMA}
        if self.types:
            refs, found = _msgspec_schemas(_msgspec(), self.types)
            schemas.update(found)
            _resolve(paths, refs)
        schemas.update(self.pydantic)
        out: dict[str, Any] = {"schemas": schemas}
        if self.security:
            out["securitySchemes"] = self.security
        return out


def _files_schema(files: tuple[Param, ...]) -> dict[str, Any] | None:
    """The multipart fields of file parameters, as an object schema."""
    if not files:
        return None
    from .multipart import JSON_SCHEMA

    file = dict(JSON_SCHEMA)
    props = {p.key: {"type": "array", "items": file} if p.many else file for p in files}
    schema: dict[str, Any] = {"type": "object", "properties": props}
    required = [p.key for p in files if p.required]
    if required:
        schema["required"] = required
    return schema


def _schema_hook(t: Any) -> dict[str, Any]:
    """Schemas for the types msgspec does not know: an uploaded file is binary."""
    from .multipart import JSON_SCHEMA, FileUpload

    if t is FileUpload:
        return dict(JSON_SCHEMA)
    raise NotImplementedError


def _msgspec_schemas(msgspec: Any, types_: list[Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """msgspec's schemas for ``types_``; a type it cannot describe gets ``{}`` (any value)."""
    components = msgspec.json.schema_components
    try:
        return components(types_, ref_template=_REF, schema_hook=_schema_hook)  # type: ignore[no-any-return]
    except TypeError:
        refs: list[Any] = []
        found: dict[str, Any] = {}
        for t in types_:
            try:
                (ref,), more = components([t], ref_template=_REF, schema_hook=_schema_hook)
            except TypeError:
                ref, more = {}, {}
            refs.append(ref)
            found.update(more)
        return tuple(refs), found


def _resolve(node: Any, refs: tuple[dict[str, Any], ...]) -> None:
    """Replace the placeholders ``schema()`` left with the schemas msgspec made."""
    if isinstance(node, dict):
        items: Iterable[tuple[Any, Any]] = list(node.items())
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, value in items:
        if isinstance(value, dict) and "__junco_type__" in value:
            node[key] = refs[value["__junco_type__"]]
        else:
            _resolve(value, refs)


def _walk(router: Router, prefix: str, tag: str | None) -> Iterator[tuple[str, Route, str | None]]:
    for route in router.routes:
        yield prefix + route.pattern.url_pattern, route, tag
    for mount in router.mounts:
        if mount.native:
            yield from _walk(mount.app.router, prefix + mount.prefix, _mount_tag(mount) or tag)


def _tag(app: Any) -> str | None:
    from .controllers import Controller

    return type(app).__name__ if isinstance(app, Controller) else None


def _mount_tag(mount: Mount) -> str | None:
    return _tag(mount.app) or (mount.prefix.strip("/") or None)


def _openapi_path(pattern: str) -> str:
    def repl(m: re.Match[str]) -> str:
        spec = m.group(1)
        return "{" + spec.rpartition(":")[2] + "}"

    return _ARG.sub(repl, pattern) or "/"


def _chain(handler: Any) -> Iterator[Any]:
    fn = handler
    seen = 0
    while fn is not None and seen < 32:
        yield fn
        binding = binding_of(fn)
        fn = binding.handler if binding is not None else getattr(fn, "__wrapped__", None)
        seen += 1


def _innermost(handler: Any) -> Any:
    fn = handler
    for fn in _chain(handler):  # noqa: B007 - the last one is wanted
        pass
    return fn


def _meta(handler: Any) -> dict[str, Any]:
    for fn in _chain(handler):
        meta = getattr(fn, _META, None)
        if meta is not None:
            return meta  # type: ignore[no-any-return]
    return {}


def _guard_of(handler: Any) -> Any:
    for fn in _chain(handler):
        guard = getattr(fn, "_junco_guard", None)
        if guard is not None and guard[1]:
            return guard[0]
    return None


def _doc(fn: Any) -> tuple[str | None, str | None]:
    text = inspect.getdoc(fn)
    if not text:
        return None, None
    first, _, rest = text.partition("\n")
    return first.strip() or None, rest.strip() or None


def _security_scheme(guard: Any) -> dict[str, Any]:
    kind = type(guard).__name__
    if kind == "BasicAuth":
        return {"type": "http", "scheme": "basic"}
    if kind == "Login":
        cookie = getattr(getattr(guard, "session", None), "cookie_name", "session")
        return {"type": "apiKey", "in": "cookie", "name": cookie}
    header = getattr(guard, "header", "Authorization")
    if header.lower() == "authorization":
        return {"type": "http", "scheme": getattr(guard, "scheme", "Bearer").lower()}
    return {"type": "apiKey", "in": "header", "name": header}


__all__ = ["OpenAPI", "operation"]
