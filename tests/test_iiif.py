"""IIIF manifests (Presentation 2 and 3) and Image API requests, offline, against hand-written documents."""

from __future__ import annotations

import pytest

from crawler.iiif import IiifUnreadable, image_api_version, image_request, manifest_image, parse_size

V2_MANIFEST = {
    "@context": "http://iiif.io/api/presentation/2/context.json", "@type": "sc:Manifest",
    "sequences": [{"canvases": [{"images": [{"resource": {
        "@id": "https://h/iiif/2/a/full/full/0/default.jpg",
        "service": {"@context": "http://iiif.io/api/image/2/context.json", "@id": "https://h/iiif/2/a"}}}]}]}],
}
V3_MANIFEST = {
    "@context": "http://iiif.io/api/presentation/3/context.json", "type": "Manifest",
    "items": [{"type": "Canvas", "items": [{"type": "AnnotationPage", "items": [{"type": "Annotation", "body": {
        "id": "https://h/iiif/3/b/full/max/0/default.jpg", "type": "Image",
        "service": [{"id": "https://h/iiif/3/b", "type": "ImageService3"}]}}]}]}],
}


def test_manifests_name_their_first_image_service():
    assert manifest_image(V2_MANIFEST) == ("https://h/iiif/2/a", "https://h/iiif/2/a/full/full/0/default.jpg")
    assert manifest_image(V3_MANIFEST) == ("https://h/iiif/3/b", "https://h/iiif/3/b/full/max/0/default.jpg")
    without_service = {"items": [{"items": [{"items": [{"body": {"id": "https://h/b.jpg"}}]}]}]}
    assert manifest_image(without_service) == (None, "https://h/b.jpg")


@pytest.mark.parametrize("manifest", [{}, {"items": []}, {"sequences": [{"canvases": []}]}, []])
def test_a_manifest_without_an_image_is_refused(manifest):
    with pytest.raises(IiifUnreadable):
        manifest_image(manifest)


@pytest.mark.parametrize(
    ("info", "size", "url"),
    [
        ({"@context": "http://iiif.io/api/image/2/context.json", "@id": "https://h/2/a", "width": 4000, "height": 3000},
         "max", "https://h/2/a/full/full/0/default.jpg"),
        ({"@context": "http://iiif.io/api/image/3/context.json", "id": "https://h/3/a/", "width": 4000, "height": 3000},
         "max", "https://h/3/a/full/max/0/default.jpg"),
        ({"@context": "http://iiif.io/api/image/3/context.json", "id": "https://h/3/a", "width": 4000, "height": 3000},
         2048, "https://h/3/a/full/!2048,2048/0/default.jpg"),
        # never upscaled: a picture smaller than the bound is asked whole
        ({"@context": "http://iiif.io/api/image/3/context.json", "id": "https://h/3/a", "width": 800, "height": 600},
         2048, "https://h/3/a/full/max/0/default.jpg"),
        ({"@context": ["http://iiif.io/api/image/2/context.json"], "@id": "https://h/2/a", "width": 800, "height": 600},
         640, "https://h/2/a/full/!640,640/0/default.jpg"),
    ],
)
def test_image_request(info, size, url):
    assert image_request(info, size) == url


def test_versions_and_sizes():
    assert image_api_version({"@context": "http://iiif.io/api/image/3/context.json"}) == 3
    assert image_api_version({"@context": "http://library.stanford.edu/iiif/image-api/1.1/context.json"}) == 2
    assert parse_size("max") == "max" and parse_size("2048") == 2048
    for bad in ("0", "-5", "big", ""):
        with pytest.raises(ValueError):
            parse_size(bad)
    with pytest.raises(IiifUnreadable):
        image_request({"width": 1}, "max")
