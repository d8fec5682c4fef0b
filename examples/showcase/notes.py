"""Notes with attachments: multipart uploads in, downloads out, one user's notes only.

Every lookup goes through the repository with the logged-in user's id, so
another user's note or attachment is a 404, exactly like one that does not
exist.
"""

from __future__ import annotations

import io
import mimetypes
from typing import Any

from junco import HTTPException, Junco, Request, Response, abort, redirect, send_file
from junco.errors import format_size
from junco.multipart import FileUpload, secure_filename, with_form_data

from .repository import NewFile, Note, User
from .services import Services, current_user, feed_channel

#: Form fields besides the files: title, body and the CSRF token, with room to spare.
EXTRA_PARTS = 8


class FormError(Exception):
    """A note form the user must correct (shown on the page, with a 400)."""


def note_json(note: Note) -> dict[str, Any]:
    """A note as the JSON API shows it."""
    return {
        "id": note.id,
        "title": note.title,
        "body": note.body,
        "created": note.created,
        "attachments": [
            {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in note.attachments
        ],
    }


def register(app: Junco, s: Services) -> None:
    """Add the note routes to ``app``."""
    _reading(app, s)
    _writing(app, s)
    _files_and_api(app, s)


async def _notes_page(
    s: Services, request: Request, status: int = 200, error: str | None = None
) -> Response:
    notes = await s.repo.list_notes(current_user(request).id)
    return await s.render(
        request, "notes.html", status, notes=notes, error=error, attachment_limit=_limit(s)
    )


def _limit(s: Services) -> str:
    size = format_size(s.config.max_attachment)
    return f"Attachments are limited to {size} each, {s.config.max_attachments} per note."


def _reading(app: Junco, s: Services) -> None:
    @app.get("/notes")
    @s.login
    async def list_notes(request: Request) -> Response:
        return await _notes_page(s, request)

    @app.get("/notes/<id:note_id>")
    @s.login
    async def show_note(request: Request, note_id: str) -> Response:
        note = await _own_note(s, current_user(request), note_id)
        return await s.render(request, "note.html", note=note)


def _writing(app: Junco, s: Services) -> None:
    config = s.config
    form_limits = with_form_data(
        max_parts=config.max_attachments + EXTRA_PARTS,
        max_file_size=config.max_attachment,
        # Text is at most 4 bytes a character in UTF-8.
        max_field_size=4 * max(config.max_body, config.max_title) + 1024,
    )

    @app.post("/notes")
    @s.login  # outside: an anonymous upload is refused before it is read
    @form_limits
    async def create_note(request: Request) -> Response:
        user = current_user(request)
        try:
            title, body, files = await _read_form(request, s)
            if await s.repo.count_notes(user.id) >= config.max_notes:
                raise FormError(f"You can keep at most {config.max_notes} notes.")
        except FormError as exc:
            return await _notes_page(s, request, 400, str(exc))
        note = await s.repo.add_note(user.id, title, body, files)
        await s.broadcast.publish(feed_channel(user.id), _event(note))
        return redirect(app.url_for("show_note", note_id=note.id), 303)

    @app.errorhandler(413)
    async def too_large(request: Request) -> Response:
        # An upload over the limits: the form again, saying what the limits are.
        user = request.g.get("current_user")
        if request.route is None or request.route.handler is not create_note or not user:
            raise HTTPException(413)  # junco's own page for every other 413
        return await _notes_page(s, request, 413, _limit(s))

    @app.post("/notes/<id:note_id>/delete")
    @s.login
    async def delete_note(request: Request, note_id: str) -> Response:
        if not await s.repo.delete_note(current_user(request).id, note_id):
            abort(404)
        return redirect(app.url_for("list_notes"), 303)


def _files_and_api(app: Junco, s: Services) -> None:
    @app.get("/notes/<id:note_id>/files/<id:file_id>")
    @s.login
    async def download(request: Request, note_id: str, file_id: str) -> Response:
        user = current_user(request)
        note = await _own_note(s, user, note_id)
        attachment = next((a for a in note.attachments if a.id == file_id), None)
        data = await s.repo.get_file(user.id, note_id, file_id) if attachment else None
        if attachment is None or data is None:
            abort(404)
        response = send_file(
            attachment.filename,
            stream=io.BytesIO(data),
            content_type=attachment.content_type,
            attachment=attachment.filename,
        )
        # Someone's private file: no shared cache may keep it.
        response.headers["Cache-Control"] = "private, no-store"
        return response

    @app.get("/api/me")
    @s.login
    async def api_me(request: Request) -> dict[str, Any]:
        user = current_user(request)
        return {"id": user.id, "username": user.username}

    @app.get("/api/notes")
    @s.login
    async def api_notes(request: Request) -> dict[str, Any]:
        notes = await s.repo.list_notes(current_user(request).id)
        return {"notes": [note_json(n) for n in notes]}


async def _own_note(s: Services, user: User, note_id: str) -> Note:
    note = await s.repo.get_note(user.id, note_id)
    if note is None:
        abort(404)
    return note


async def _read_form(request: Request, s: Services) -> tuple[str, str, list[NewFile]]:
    """The title, text and files of a new note, checked against the limits.

    Raises:
        FormError: something the user must correct.
    """
    config = s.config
    form, uploads = request.form, request.files
    title = (form.get("title") if form is not None else None) or ""
    body = (form.get("body") if form is not None else None) or ""
    title = title.strip()
    if not title or len(title) > config.max_title:
        raise FormError(f"A note needs a title of at most {config.max_title} characters.")
    if len(body) > config.max_body:
        raise FormError(f"A note's text is at most {config.max_body} characters.")
    # A browser sends an empty, nameless part when no file was chosen.
    chosen: list[FileUpload] = [
        f for f in (uploads.getlist("files") if uploads is not None else []) if f.filename or f.size
    ]
    if len(chosen) > config.max_attachments:
        raise FormError(f"Attach at most {config.max_attachments} files.")
    files = []
    for upload in chosen:
        # Never a client's path: a safe, portable name, or a neutral one.
        name = secure_filename(upload.filename or "") or "attachment"
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        files.append(NewFile(name, kind, await upload.read()))
    return title, body, files


def _event(note: Note) -> dict[str, Any]:
    return {"type": "note", "id": note.id, "title": note.title, "files": len(note.attachments)}
