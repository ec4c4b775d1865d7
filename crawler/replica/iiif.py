"""The replica's IIIF: Image API 2 and 3 (info.json and the full-region subset) and Presentation manifests.

URLs: /iiif/{2|3}/{source_id}/info.json, /iiif/{2|3}/{source_id}/full/{size}/0/default.{jpg|png}
and /iiif/{2|3}/{source_id}/manifest. Sizes: max, full, w,h, w, ,h, !w,h (no upscaling).
A request for the whole picture in its own format answers the original bytes (what /media
serves); any other size is resized with Lanczos and encoded as JPEG at quality 90.
Some clean JPEG records link a manifest (or, rarely, an info.json) instead of the picture.
"""

from __future__ import annotations

import io
import json
import re

from PIL import Image

from crawler.replica.archive import ReplicaArchive, ReplicaRecord

JSON_LD = "application/ld+json; charset=utf-8"
CONTEXTS = {2: "http://iiif.io/api/image/2/context.json", 3: "http://iiif.io/api/image/3/context.json"}
PRESENTATION = {2: "http://iiif.io/api/presentation/2/context.json", 3: "http://iiif.io/api/presentation/3/context.json"}
RESIZED_QUALITY = 90
_SIZE = re.compile(r"^(?:(max|full)|(!)?(\d+)?,(\d+)?)$")


def iiif_link(record: ReplicaRecord, number: int) -> str | None:
    """The IIIF path a record's Dublin Core links instead of its picture, or None (most records)."""
    if record.faults or record.image_format != "JPEG":
        return None
    if number % 10 == 2:
        return f"/iiif/2/{record.source_id}/manifest"
    if number % 10 == 7:
        return f"/iiif/3/{record.source_id}/manifest"
    if number % 10 == 4:
        return f"/iiif/3/{record.source_id}/info.json"
    return None


def info(record: ReplicaRecord, version: int, base_url: str) -> dict:
    service = f"{base_url}/iiif/{version}/{record.source_id}"
    width, height = record.image_size
    if version == 3:
        return {"@context": CONTEXTS[3], "id": service, "type": "ImageService3", "protocol": "http://iiif.io/api/image",
                "profile": "level1", "width": width, "height": height}
    return {"@context": CONTEXTS[2], "@id": service, "protocol": "http://iiif.io/api/image", "width": width,
            "height": height, "profile": ["http://iiif.io/api/image/2/level1.json"]}


def _metadata(record: ReplicaRecord, version: int) -> list[dict]:
    """The record page's fields as manifest metadata pairs (language maps in Presentation 3)."""
    if version == 3:
        return [{"label": {"es": [label]}, "value": {"es": [value]}} for label, value in record.fields.items() if value]
    return [{"label": label, "value": value} for label, value in record.fields.items() if value]


def manifest(record: ReplicaRecord, version: int, base_url: str) -> dict:
    """The record's Presentation manifest: its title as label, its catalogue fields as metadata, one canvas."""
    description = record.fields.get("Descripción")
    root = f"{base_url}/iiif/{version}/{record.source_id}"
    width, height = record.image_size
    image = f"{root}/full/{'max' if version == 3 else 'full'}/0/default.jpg"
    if version == 2:
        service = {"@context": CONTEXTS[2], "@id": root, "profile": "http://iiif.io/api/image/2/level1.json"}
        resource = {"@id": image, "@type": "dctypes:Image", "format": "image/jpeg", "width": width, "height": height,
                    "service": service}
        canvas = {"@id": f"{root}/canvas/1", "@type": "sc:Canvas", "label": record.source_id, "width": width,
                  "height": height, "images": [{"@type": "oa:Annotation", "motivation": "sc:painting",
                                                "resource": resource, "on": f"{root}/canvas/1"}]}
        document = {"@context": PRESENTATION[2], "@id": f"{root}/manifest", "@type": "sc:Manifest",
                    "label": record.title, "metadata": _metadata(record, 2),
                    "sequences": [{"@type": "sc:Sequence", "canvases": [canvas]}]}
        if description:
            document["description"] = description
        return document
    body = {"id": image, "type": "Image", "format": "image/jpeg", "width": width, "height": height,
            "service": [{"id": root, "type": "ImageService3", "profile": "level1"}]}
    annotation = {"id": f"{root}/annotation/1", "type": "Annotation", "motivation": "painting", "body": body,
                  "target": f"{root}/canvas/1"}
    canvas = {"id": f"{root}/canvas/1", "type": "Canvas", "width": width, "height": height,
              "items": [{"id": f"{root}/page/1", "type": "AnnotationPage", "items": [annotation]}]}
    document = {"@context": PRESENTATION[3], "id": f"{root}/manifest", "type": "Manifest",
                "label": {"es": [record.title]}, "metadata": _metadata(record, 3), "items": [canvas]}
    if description:
        document["summary"] = {"es": [description]}
    return document


def _target_size(spec: str, width: int, height: int) -> tuple[int, int] | None:
    m = _SIZE.match(spec)
    if not m:
        return None
    whole, fit, w, h = m.groups()
    if whole:
        return width, height
    if w is None and h is None:
        return None
    if fit:
        if w is None or h is None:
            return None
        scale = min(int(w) / width, int(h) / height, 1.0)
        return max(1, round(width * scale)), max(1, round(height * scale))
    if w is not None and h is not None:
        size = int(w), int(h)
    elif w is not None:
        size = int(w), max(1, round(height * int(w) / width))
    else:
        size = max(1, round(width * int(h) / height)), int(h)
    return size if size[0] <= width and size[1] <= height else None


def answer(archive: ReplicaArchive, path: str, base_url: str) -> tuple[int, str, bytes] | None:
    """(status, content type, body) for a /iiif/ path; None for a 404."""
    parts = path.strip("/").split("/")
    if len(parts) < 4 or parts[1] not in ("2", "3"):
        return None
    version, record = int(parts[1]), archive.find(parts[2])
    if record is None or record.faults:
        return None
    rest = parts[3:]
    if rest == ["info.json"]:
        return 200, JSON_LD, json.dumps(info(record, version, base_url)).encode()
    if rest == ["manifest"]:
        return 200, JSON_LD, json.dumps(manifest(record, version, base_url)).encode()
    if len(rest) != 4 or rest[0] != "full" or rest[2] != "0":
        return None
    quality, _, extension = rest[3].partition(".")
    if quality != "default" or extension not in ("jpg", "png"):
        return None
    size = _target_size(rest[1], *record.image_size)
    if size is None:
        return 400, "text/plain; charset=utf-8", f"size {rest[1]!r} not supported".encode()
    original = archive.image_bytes(record.source_id)
    own_format = {"JPEG": "jpg", "PNG": "png"}[record.image_format]
    content_type = "image/png" if extension == "png" else "image/jpeg"
    if size == record.image_size and extension == own_format:
        return 200, content_type, original
    picture = Image.open(io.BytesIO(original)).convert("RGB").resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG" if extension == "png" else "JPEG", quality=RESIZED_QUALITY)
    return 200, content_type, buffer.getvalue()
