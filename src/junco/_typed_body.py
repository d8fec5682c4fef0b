"""Request bodies and responses of typed handlers (see :mod:`junco.typed`).

The fast path decodes JSON straight into the declared type with msgspec. Only
when that fails is the body parsed again, with junco's own JSON parser (so a
malformed or too deeply nested body is the same 400 as everywhere else), and
checked field by field, so the 422 lists every problem and not just the first.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Awaitable, Callable
from typing import Any

from ._parsing import _too_deep, json_loads
from .exceptions import HTTPException
from .response import _CT_JSON, Response
from .typed import (
    Binding,
    ValidationError,
    _error,
    _is_pydantic,
    _msgspec,
    _strip_optional,
    is_scalar,
    is_upload,
    uploads_of,
)

_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
_MISSING = [{"loc": ["body"], "msg": "a request body is required"}]
_UNSUPPORTED = "expected a JSON body (application/json) or a form"


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def field_types(t: Any) -> dict[str, tuple[Any, bool]]:
    """``{name: (annotation, required)}`` for a model's top-level fields."""
    if _is_pydantic(t):
        return {n: (f.annotation, f.is_required()) for n, f in t.model_fields.items()}
    if dataclasses.is_dataclass(t):
        hints = typing.get_type_hints(t)
        return {
            f.name: (
                hints[f.name],
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            )
            for f in dataclasses.fields(t)
            if f.init
        }
    if typing.is_typeddict(t):
        hints = typing.get_type_hints(t)
        return {n: (h, n in t.__required_keys__) for n, h in hints.items()}
    msgspec = _msgspec()
    return {f.encode_name: (f.type, f.required) for f in msgspec.structs.fields(t)}


def is_flat(t: Any) -> bool:
    """Whether a form can fill model ``t``: every field is text, a list of text, or a file."""
    return all(is_scalar(h) or is_upload(h) for h, _ in field_types(t).values())


def file_fields(t: Any) -> tuple[str, ...]:
    """The names of model ``t``'s fields that hold uploaded files."""
    return tuple(n for n, (h, _) in field_types(t).items() if is_upload(h))


def body_reader(t: Any, required: bool) -> Callable[[Any], Any]:
    """``read(request)``: the body as ``t``, or 400/415/422 (multipart: see multipart_loader)."""
    decode_json, from_form = _pydantic_codecs(t) if _is_pydantic(t) else _msgspec_codecs(t)
    flat = field_types(t)
    forms = is_flat(t)
    many = {n for n, (h, _) in flat.items() if _is_list(h)}
    files = {n: typing.get_origin(_strip_optional(flat[n][0])) is list for n in file_fields(t)}

    def read(request: Any) -> Any:
        mimetype = request.mimetype
        if _is_json(mimetype):
            body = request.body
            if body:
                if _too_deep(body, request.app.max_json_depth):
                    raise HTTPException(400, "JSON nested too deeply")
                return decode_json(request, body)
        elif mimetype == _FORM and forms:
            form = request.form
            if form:
                return from_form(_flatten(form, many))
        elif mimetype == _MULTIPART and forms:
            data = _flatten(request.form, many)  # filled by multipart_loader before binding
            for name, listed in files.items():
                got = uploads_of(request, name)
                if got:
                    data[name] = got if listed else got[0]
            if data:
                return from_form(data)
        elif mimetype or request.body:
            raise HTTPException(
                415, _UNSUPPORTED if forms else "expected a JSON body (application/json)"
            )
        if required:
            raise ValidationError(list(_MISSING))
        return None

    return read


def _msgspec_codecs(t: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    msgspec = _msgspec()
    decoder = msgspec.json.Decoder(t)
    convert, decode_error = msgspec.convert, msgspec.DecodeError
    defaults = _class_defaults(t)

    def decode_json(request: Any, body: bytes) -> Any:
        try:
            value = decoder.decode(body)
        except decode_error as exc:
            raw = json_loads(body, request.app.max_json_depth)  # 400 if malformed
            raise ValidationError(_field_errors(t, raw, exc, strict=True)) from None
        if defaults:
            _set_defaults(value, defaults)
        return value

    def from_form(data: dict[str, Any]) -> Any:
        try:
            value = convert(data, t, strict=False)
        except msgspec.ValidationError as exc:
            raise ValidationError(_field_errors(t, data, exc, strict=False)) from None
        if defaults:
            _set_defaults(value, defaults)
        return value

    return decode_json, from_form


def _class_defaults(t: Any) -> tuple[str, ...]:
    """A dataclass's fields with plain defaults.

    msgspec leaves a missing one to the class attribute instead of setting it on
    the instance, and then encodes the instance without it; junco sets them.
    """
    if not dataclasses.is_dataclass(t):
        return ()
    return tuple(f.name for f in dataclasses.fields(t) if f.default is not dataclasses.MISSING)


def _set_defaults(value: Any, names: tuple[str, ...]) -> None:
    state = getattr(value, "__dict__", None)
    if state is None:
        return  # slots: msgspec sets every field
    for name in names:
        if name not in state:
            state[name] = getattr(value, name)


def _pydantic_codecs(t: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    import pydantic

    def errors(exc: Any) -> ValidationError:
        return ValidationError(
            [{"loc": ["body", *e["loc"]], "msg": e["msg"]} for e in exc.errors()]
        )

    def decode_json(request: Any, body: bytes) -> Any:
        try:
            return t.model_validate_json(body)
        except pydantic.ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                raise HTTPException(400, "invalid JSON") from None
            raise errors(exc) from None

    def from_form(data: dict[str, Any]) -> Any:
        try:
            return t.model_validate(data)
        except pydantic.ValidationError as exc:
            raise errors(exc) from None

    return decode_json, from_form


def _is_list(hint: Any) -> bool:
    return typing.get_origin(_strip_optional(hint)) in (list, tuple, set, frozenset)


def _flatten(form: Any, many: set[str]) -> dict[str, Any]:
    return {k: (form.getlist(k) if k in many else form.get(k)) for k in form}


def multipart_loader(binding: Binding) -> Callable[[Any], Awaitable[list[Any]]]:
    """``load(request)``: fill ``request.form`` and ``request.files`` from a multipart body.

    Only the files the binding declares (file parameters, a model's file fields)
    are kept; the app's multipart limits apply. Returns the uploads to close.
    """
    from .multipart import _collect

    keep = frozenset(
        [p.key for p in binding.files]
        + list(file_fields(binding.body_type) if binding.body_type is not None else ())
    )

    async def load(request: Any) -> list[Any]:
        return await _collect(request, {}, keep)

    return load


def _field_errors(t: Any, raw: Any, exc: Exception, strict: bool) -> list[dict[str, Any]]:
    """Every field's problem, where msgspec stops at the first."""
    if not isinstance(raw, dict):
        return [_error(["body"], exc)]
    msgspec = _msgspec()
    out: list[dict[str, Any]] = []
    for name, (hint, required) in field_types(t).items():
        if name not in raw:
            if required:
                out.append({"loc": ["body", name], "msg": "field required"})
            continue
        try:
            msgspec.convert(raw[name], hint, strict=strict)
        except msgspec.ValidationError as field_exc:
            out.append(_error(["body", name], field_exc))
    return out or [_error(["body"], exc)]


def encoder(rtype: Any) -> Callable[[Any], Any]:
    """``finish(rv)``: the handler's return value as a JSON response of ``rtype``."""
    if _mentions_pydantic(rtype):
        return _pydantic_encoder(rtype)
    msgspec = _msgspec()
    encode = msgspec.json.Encoder().encode
    convert = msgspec.convert
    exact = rtype if isinstance(rtype, type) and not typing.is_typeddict(rtype) else None

    def finish(rv: Any) -> Any:
        value, rest = _split(rv)
        if value is None or isinstance(value, Response):
            return rv
        if exact is None or type(value) is not exact:
            try:
                value = convert(value, rtype, from_attributes=True)
            except msgspec.ValidationError as exc:
                raise TypeError(f"the handler's return value is not a {rtype!r}: {exc}") from None
        return _respond(encode(value), rest)

    return finish


def _mentions_pydantic(t: Any) -> bool:
    return _is_pydantic(t) or any(_mentions_pydantic(a) for a in typing.get_args(t))


def _pydantic_encoder(rtype: Any) -> Callable[[Any], Any]:
    import pydantic

    adapter = pydantic.TypeAdapter(rtype)

    def finish(rv: Any) -> Any:
        value, rest = _split(rv)
        if value is None or isinstance(value, Response):
            return rv
        value = adapter.validate_python(value, from_attributes=True)
        return _respond(adapter.dump_json(value), rest)

    return finish


def _split(rv: Any) -> tuple[Any, tuple[Any, ...]]:
    if type(rv) is tuple and rv and type(rv[0]) is not int:
        return rv[0], rv[1:]
    return rv, ()


def _respond(body: bytes, rest: tuple[Any, ...]) -> Response:
    status, headers = 200, None
    for item in rest:
        if type(item) is int:
            status = item
        else:
            headers = item
    response = Response(body, status, headers)
    if headers is None:
        response._ctype = _CT_JSON
    else:
        response.headers.setdefault("Content-Type", "application/json")
    return response
