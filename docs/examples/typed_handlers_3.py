# docs/examples/typed_handlers_3.py
import msgspec

from junco import Junco, Request
from junco.multipart import FileUpload, configure, secure_filename
from junco.openapi import OpenAPI

app = Junco()
configure(app, max_file_size=5 * 1024 * 1024)  # a bigger file is a 413
OpenAPI(app, title="Photos", version="1.0")


class Photo(msgspec.Struct):
    title: str
    image: FileUpload  # a file field: the body must be multipart/form-data
    tags: list[str] = []


@app.post("/photos")
async def add_photo(request: Request, photo: Photo) -> dict[str, object]:
    data = await photo.image.read()
    name = secure_filename(photo.image.filename or "") or "photo"
    return {"title": photo.title, "file": name, "bytes": len(data), "tags": photo.tags}


@app.post("/avatar")
async def set_avatar(
    request: Request, avatar: FileUpload, thumbnails: list[FileUpload] | None = None
) -> dict[str, object]:
    """File parameters: ``avatar`` is required, ``thumbnails`` takes every file sent."""
    return {"avatar": avatar.content_type, "thumbnails": len(thumbnails or [])}
