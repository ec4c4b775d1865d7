"""IIIF: from a Presentation manifest (API 2 or 3) or an Image API info.json to one image URL.

Pure functions over parsed JSON. The image pipeline fetches the documents; these say which
image service a manifest's first canvas shows and which URL asks that service for the
picture at the size the user chose: "max" (the largest the server gives) or a bounded long
side N (never upscaled; asked as "!N,N", which Image API 2 and 3 both read as "fit inside").

>>> info = {"@context": "http://iiif.io/api/image/3/context.json", "id": "http://h/iiif/7", "width": 4000, "height": 3000}
>>> image_request(info, "max"), image_request(info, 2048)
('http://h/iiif/7/full/max/0/default.jpg', 'http://h/iiif/7/full/!2048,2048/0/default.jpg')
"""

from __future__ import annotations

from db.errors import PipelineError


class IiifUnreadable(PipelineError):
    """A manifest or info.json lacks what this reader needs (a canvas, an image, a service id)."""


def _id(node: dict) -> str | None:
    value = node.get("id") or node.get("@id")
    return value if isinstance(value, str) else None


def _first(value) -> dict | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, dict) else None


def _service_of(resource: dict) -> str | None:
    service = _first(resource.get("service"))
    return _id(service) if service else None


def manifest_image(manifest: dict) -> tuple[str | None, str | None]:
    """(image service base URL, direct image URL) of the manifest's first canvas; either may be None."""
    if not isinstance(manifest, dict):
        raise IiifUnreadable("the manifest is not a JSON object")
    sequence = _first(manifest.get("sequences"))
    if sequence is not None:  # Presentation API 2: sequences[0].canvases[0].images[0].resource
        canvas = _first(sequence.get("canvases"))
        annotation = _first(canvas.get("images")) if canvas else None
        resource = _first(annotation.get("resource")) if annotation else None
    else:  # Presentation API 3: items[0] (canvas) .items[0] (page) .items[0] (annotation) .body
        canvas = _first(manifest.get("items"))
        page = _first(canvas.get("items")) if canvas else None
        annotation = _first(page.get("items")) if page else None
        resource = _first(annotation.get("body")) if annotation else None
    if resource is None:
        raise IiifUnreadable("no canvas with an image in the manifest")
    service, direct = _service_of(resource), _id(resource)
    if service is None and direct is None:
        raise IiifUnreadable("the manifest's first image has neither a service nor an id")
    return service, direct


def image_api_version(info: dict) -> int:
    """2 or 3, from the info.json's @context (3 when it says so, else 2)."""
    context = info.get("@context")
    contexts = context if isinstance(context, list) else [context]
    return 3 if any(isinstance(c, str) and "/image/3" in c for c in contexts) else 2


def image_request(info: dict, size: str | int) -> str:
    """The URL of the whole picture at `size` ("max" or a long side in pixels) from an info.json."""
    if not isinstance(info, dict):
        raise IiifUnreadable("info.json is not a JSON object")
    base = _id(info)
    if base is None:
        raise IiifUnreadable("info.json has no id")
    version = image_api_version(info)
    full = "max" if version == 3 else "full"
    width, height = info.get("width"), info.get("height")
    if size == "max" or (isinstance(width, int) and isinstance(height, int) and max(width, height) <= int(size)):
        wanted = full
    else:
        wanted = f"!{int(size)},{int(size)}"
    return f"{base.rstrip('/')}/full/{wanted}/0/default.jpg"


def parse_size(text: str) -> str | int:
    """--image-size: "max" or a positive long side in pixels.

    >>> parse_size("2048"), parse_size("max")
    (2048, 'max')
    """
    if text == "max":
        return "max"
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise ValueError(f"expected 'max' or a long side in pixels such as 2048, got {text!r}")
