"""Field extraction on saved HTML, one page per markup, plus profiles and selectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.extract import extract_fields, extract_image_url, extract_links, normalize_label
from crawler.profile import (
    BadStartURL,
    ProfileInvalid,
    ProfileNotFound,
    available_profiles,
    load_profile,
    start_urls_for,
)

HTML = Path(__file__).parent / "data" / "html"
REPLICA = load_profile("replica")


def page(name: str) -> str:
    return (HTML / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("record_dl.html", {
            "source_id": "LRM-000001", "title": "Calle Mayor de Briñas", "holder": "Colección Ochoa García",
            "date_raw": "1961", "place": "Briñas (La Rioja)",
            "description": "Calle Mayor de Briñas. Se aprecian carros y caballerías.",
        }),
        ("record_table.html", {
            "source_id": "LRM-000002", "title": "Primera comunión de Ángeles López",
            "holder": "Biblioteca de La Rioja", "date_raw": "1964-1967", "place": "Alfaro",
            "description": "Primera comunión de Ángeles López. En primer término, un grupo de niños.",
        }),
        ("record_li.html", {
            "source_id": "LRM-000003", "title": "Retrato de familia", "holder": "Familia Pérez Sáenz",
            "date_raw": "1960", "place": "Calahorra",
            "description": 'Retrato de familia. Rótulo "Íñiguez e Hijos" en la fachada.',
        }),
    ],
)
def test_each_markup_yields_every_field(name, expected):
    extraction = extract_fields(page(name), REPLICA.labels, REPLICA.fields_container)
    assert extraction.fields == expected
    assert extraction.missing == ()
    assert extraction.unmapped == ()


def test_awkward_markup_mixed_on_one_page():
    labels = {"Identificador": "source_id", "Título": "title", "Titular": "holder", "Fecha": "date_raw",
              "Lugar": "place", "Descripción": "description"}
    extraction = extract_fields(page("record_mixed.html"), labels, "div.registro")
    assert extraction.fields == {
        "source_id": "AHPLR-FOT-0042",  # <p><b>label</b>: value, colon outside the label
        "title": "Puente de piedra sobre el Ebro",  # two <td> cells, <br> keeps words apart
        "holder": "Archivo Municipal de Logroño",  # nested inline tags
        "date_raw": "hacia 1930",  # &nbsp; and padding collapse
        "description": 'Vista "tomada" desde la orilla & el río.',  # entities unescaped
    }
    assert extraction.missing == ("place",)  # present but empty counts as missing
    assert extraction.unmapped == ("Soporte",)
    assert "Menú" not in extraction.labels  # outside the container


def test_whole_page_when_no_container():
    extraction = extract_fields(page("record_mixed.html"), {"Menú": "title"})
    assert extraction.fields == {"title": "Inicio"}


def test_first_label_wins_for_a_field():
    html = "<dl><dt>Fecha</dt><dd></dd><dt>Año</dt><dd>1950</dd><dt>Fecha</dt><dd>1960</dd></dl>"
    assert extract_fields(html, {"Fecha": "date_raw", "Año": "date_raw"}).fields == {"date_raw": "1950"}


@pytest.mark.parametrize(
    ("label", "key"),
    [("Título", "titulo"), ("  DESCRIPCIÓN : ", "descripcion"), ("Año:", "ano"), ("Lugar\n de  toma", "lugar de toma")],
)
def test_normalize_label(label, key):
    assert normalize_label(label) == key


def test_image_and_links_are_absolute():
    base = "http://127.0.0.1:8000/foto/LRM-000001"
    assert extract_image_url(page("record_dl.html"), REPLICA.image, base) == "http://127.0.0.1:8000/media/LRM-000001.jpg"
    assert extract_image_url(page("record_mixed.html"), "img.foto-grande::attr(src)", "http://h/a/b/c") == (
        "http://h/a/imagenes/0042.jpg"
    )
    assert extract_image_url(page("record_dl.html"), "img.nothing::attr(src)", base) is None
    first = extract_links(page("listing_first.html"), REPLICA.record_links, "http://h/fotos")
    assert len(first) == 24 and first[0] == "http://h/foto/LRM-000001"
    assert extract_links(page("listing_first.html"), REPLICA.next_page, "http://h/fotos") == ["http://h/fotos?pagina=2"]
    assert extract_links(page("listing_last.html"), REPLICA.next_page, "http://h/fotos?pagina=3") == []


def test_xpath_selectors():
    links = extract_links(page("listing_first.html"), "xpath://a[@rel='next']/@href", "http://h/fotos")
    assert links == ["http://h/fotos?pagina=2"]


def test_shipped_profiles_load():
    assert {"larioja", "replica"} <= set(available_profiles())
    live = load_profile("larioja")
    assert live.source == "larioja" and live.start_urls[0].startswith("https://")
    assert REPLICA.source == "replica" and "year" in REPLICA.required


def test_profile_errors(tmp_path):
    with pytest.raises(ProfileNotFound, match="expected one of .*replica"):
        load_profile("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text('source = "x"\nstart_urls = ["http://h/"]\n[selectors]\nrecord_links = "a"\nnext_page = "a"\n'
                   'image = "img"\n[labels]\n"Título" = "titel"\n', encoding="utf-8")
    with pytest.raises(ProfileInvalid, match="'titel': expected one of source_id"):
        load_profile(str(bad))
    bad.write_text("source = ", encoding="utf-8")
    with pytest.raises(ProfileInvalid, match="not valid TOML"):
        load_profile(str(bad))


def test_start_urls():
    assert start_urls_for(REPLICA, "http://127.0.0.1:9") == ("http://127.0.0.1:9/fotos",)
    assert start_urls_for(REPLICA, "http://127.0.0.1:9/") == ("http://127.0.0.1:9/fotos",)
    assert start_urls_for(REPLICA, "http://127.0.0.1:9/fotos?pagina=2") == ("http://127.0.0.1:9/fotos?pagina=2",)
    with pytest.raises(BadStartURL, match="pass --start-url"):
        start_urls_for(REPLICA, None)
    with pytest.raises(BadStartURL, match="not an absolute http"):
        start_urls_for(REPLICA, "127.0.0.1:9/fotos")
