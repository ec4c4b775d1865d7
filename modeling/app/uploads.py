"""Receive one uploaded photograph from a multipart request, within a byte cap.

The cap is enforced twice: against the declared Content-Length before anything is read, and
by counting the bytes actually received, so a client that sends more than it declared (or
declares nothing, as with chunked encoding) is stopped as soon as it passes the cap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Message

from db.errors import PipelineError
from modeling.errors import ImageTooLarge

UPLOAD_FIELD = "file"
# Room for the multipart boundaries and part headers around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class UploadRejected(PipelineError):
    """An upload the server will not look at; `status_code` is the HTTP answer.

    `str(exc)` is the developer's message (the JSON API's `error`); a page shows the person
    `page_key` from the i18n table instead, formatted with `page_params`, in the page's language.
    """

    status_code = 400

    def __init__(self, message: str, filename: str | None = None, page_key: str = "upload_missing",
                 **page_params: object) -> None:
        super().__init__(message)
        self.filename = filename  # the uploaded file's name, when the request got that far
        self.page_key = page_key  # the i18n key of what a page tells the person
        self.page_params = {"file": filename or "", **page_params}  # the values that message names


class BadUpload(UploadRejected):
    """The request does not carry one file in the expected form field."""

    status_code = 400


class NotAPhotograph(UploadRejected):
    """The file cannot be decoded as an image, or it has more pixels than the app accepts."""

    status_code = 400


def not_a_photograph(filename: str, exc: Exception, max_pixels: int) -> NotAPhotograph:
    """The decoder's reason for rejecting uploaded bytes, named after the uploaded file.

    Too many pixels (`ImageTooLarge`) asks the person for a smaller copy; anything else for a
    photograph that opens.
    """
    # Pillow may quote its BytesIO in a reason; the person knows the file by name.
    reason = re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-fA-F]+>", "", str(exc)).rstrip(".")
    if isinstance(exc, ImageTooLarge):
        return NotAPhotograph(f"{filename or 'The upload'}: {reason}. Send a smaller copy.", filename,
                              "upload_too_many_pixels", megapixels=f"{max_pixels / 1e6:g}")
    return NotAPhotograph(
        f"{filename or 'The upload'}: {reason}. Send a JPEG, PNG, WebP or TIFF photograph.", filename,
        "upload_unreadable",
    )


class UploadTooLarge(UploadRejected):
    """The request body or the file in it is over the configured cap."""

    status_code = 413


@dataclass(frozen=True)
class Upload:
    filename: str  # the name the client gave the file ("" when none)
    data: bytes  # the file's bytes, exactly as sent


def human_size(n_bytes: int) -> str:
    """`20 MB`, `100 KB`: binary units, at most 3 significant digits.

    >>> human_size(20 * 1024 * 1024), human_size(100 * 1024)
    ('20 MB', '100 KB')
    """
    if n_bytes >= 1024 * 1024:
        return f"{n_bytes / (1024 * 1024):.3g} MB"
    return f"{n_bytes / 1024:.3g} KB"


def _too_large(max_file_bytes: int) -> UploadTooLarge:
    return UploadTooLarge(
        f"The upload is larger than the {human_size(max_file_bytes)} limit: send a smaller file "
        f"(or start the server with a larger --max-upload-mb).",
        None, "upload_too_large", size=human_size(max_file_bytes),
    )


async def receive_upload(request: Request, max_file_bytes: int) -> Upload:
    """Read the multipart field `file` from `request`, raising `UploadRejected` subclasses.

    Raises `UploadTooLarge` (413) as soon as the declared or received size passes the cap and
    `BadUpload` (400) when the body is not multipart or has no file in the `file` field.
    """
    body_limit = max_file_bytes + MULTIPART_OVERHEAD_BYTES
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > body_limit:
        raise _too_large(max_file_bytes)

    received = 0

    async def counted_receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > body_limit:
                raise _too_large(max_file_bytes)
        return message

    counted = Request(request.scope, counted_receive)
    try:
        async with counted.form(max_files=1, max_fields=8) as form:
            upload = form.get(UPLOAD_FIELD)
            if not isinstance(upload, UploadFile):
                raise BadUpload(
                    f"No file in the request: expected a multipart/form-data body with the photograph "
                    f"in the field {UPLOAD_FIELD!r} (e.g. curl -F {UPLOAD_FIELD}=@photo.jpg).",
                    None, "upload_missing",
                )
            data = await upload.read(max_file_bytes + 1)
            filename = upload.filename or ""
    except HTTPException as exc:
        # Starlette reports a malformed multipart body (bad boundary, too many parts) this way.
        raise BadUpload(
            f"Malformed multipart body: {exc.detail}. Send the photograph as form field {UPLOAD_FIELD!r}.",
            None, "upload_missing",
        ) from exc
    if len(data) > max_file_bytes:
        raise _too_large(max_file_bytes)
    if not data:
        raise BadUpload(f"The file {filename!r} is empty: expected the bytes of a photograph.", filename,
                        "upload_empty")
    return Upload(filename=filename, data=data)
