"""A typed JSON API for notes, with bearer tokens and its own OpenAPI document.

Mounted at ``/api/v1``: ``POST /tokens`` trades a username and password for a
token, then ``/notes`` lists, creates, shows and deletes that user's notes.
Bodies and return values are msgspec structs, so junco validates them (a 422
lists every problem) and ``/api/v1/openapi.json`` describes them; the docs
page is ``/api/v1/docs``. Tokens are signed (not stored), so they work across
workers, and carry the user's session version: a password change revokes them.
No browser sends a bearer token by itself, so these routes need no CSRF token.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from itsdangerous import BadSignature, URLSafeTimedSerializer

from junco import Junco, Request, abort
from junco.openapi import OpenAPI, operation
from junco.security.auth import TokenAuth
from junco.security.passwords import verify_password_async

from .repository import Note, User
from .services import Services

#: Seconds a token stays valid.
TOKEN_AGE = 24 * 3600
NOTE_ID = {"type": "string", "pattern": "^[0-9a-f]{16}$"}


class Credentials(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class TokenOut(msgspec.Struct):
    token: str
    expires_in: int


class NoteIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"\S")]
    body: Annotated[str, msgspec.Meta(max_length=20_000)] = ""


class NoteOut(msgspec.Struct):
    id: str
    title: str
    body: str
    created: float
    attachments: int


def note_out(note: Note) -> NoteOut:
    return NoteOut(note.id, note.title, note.body, note.created, len(note.attachments))


def create_api(s: Services) -> Junco:
    """The API as an app of its own, to mount (its routes are CSRF-exempt)."""
    api = Junco()
    api.register_type("id", "[0-9a-f]{16}", schema=NOTE_ID)
    OpenAPI(api, title="Showcase notes API", version="1.0")
    signer = URLSafeTimedSerializer(s.config.secret_key, salt="showcase-api-token")
    auth = TokenAuth()

    @auth.authenticate
    async def verify(request: Request, token: str) -> User | None:
        try:
            data = signer.loads(token, max_age=TOKEN_AGE)
        except BadSignature:
            return None
        if not isinstance(data, list) or len(data) != 2:
            return None
        user = await s.repo.get_user(str(data[0]))
        return user if user is not None and user.session_version == data[1] else None

    _tokens(api, s, signer)
    _notes(api, s, auth)
    return api


def _tokens(api: Junco, s: Services, signer: URLSafeTimedSerializer) -> None:
    @api.post("/tokens")
    @s.csrf.exempt
    @operation(status=201, responses={401: "wrong username or password"})
    async def create_token(request: Request, credentials: Credentials) -> TokenOut:
        """Trade a username and password for a bearer token."""
        user = await s.repo.find_user(credentials.username.strip().lower())
        good = await verify_password_async(
            credentials.password, user.password_hash if user else None
        )
        if user is None or not good:
            abort(401, "wrong username or password")
        token = signer.dumps([user.id, user.session_version])
        return TokenOut(token, TOKEN_AGE), 201  # type: ignore[return-value]


def _notes(api: Junco, s: Services, auth: TokenAuth) -> None:
    exempt = s.csrf.exempt

    @api.get("/notes")
    @auth
    async def list_notes(request: Request) -> list[NoteOut]:
        """The caller's notes, newest first."""
        return [note_out(n) for n in await s.repo.list_notes(_user(request).id)]

    @api.post("/notes")
    @exempt
    @auth
    @operation(status=201, responses={409: "too many notes"})
    async def add_note(request: Request, note: NoteIn) -> NoteOut:
        """Write a note (attachments are for the web form)."""
        user = _user(request)
        if await s.repo.count_notes(user.id) >= s.config.max_notes:
            abort(409, "too many notes")
        added = await s.repo.add_note(user.id, note.title.strip(), note.body, [])
        return note_out(added), 201  # type: ignore[return-value]

    @api.get("/notes/<id:note_id>")
    @auth
    async def show_note(request: Request, note_id: str) -> NoteOut:
        """One note of the caller's."""
        note = await s.repo.get_note(_user(request).id, note_id)
        if note is None:
            abort(404)
        return note_out(note)

    @api.delete("/notes/<id:note_id>")
    @exempt
    @auth
    @operation(status=204)
    async def delete_note(request: Request, note_id: str) -> Any:
        """Delete one note of the caller's."""
        if not await s.repo.delete_note(_user(request).id, note_id):
            abort(404)
        return 204


def _user(request: Request) -> User:
    user: User = request.g.current_user
    return user
