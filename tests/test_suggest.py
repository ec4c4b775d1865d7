"""`cli.py probe --suggest`: draft profiles from the replica's listing and three markups, and from saved
Omeka S and AtoM pages; a crawl with the replica's draft gets the replica's records."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from parsel import Selector
from sqlalchemy import select

from cli import main
from crawler.extract import extract_fields, extract_image_url, normalize_label
from crawler.profile import load_profile
from crawler.run import CrawlConfig, run_crawl
from crawler.suggest import render_toml, suggest_from
from db.models import Record
from db.session import make_engine, session_scope

HTML = Path(__file__).parent / "data" / "html"
# Labels as the crawler compares them (the replica prints them in varying case, with or without a colon).
REPLICA_LABELS = {"identificador": "source_id", "titulo": "title", "titular": "holder", "lugar": "place",
                  "descripcion": "description"}


def normalized(labels: dict[str, str]) -> dict[str, str]:
    return {normalize_label(k): v for k, v in labels.items() if v != "date_raw"}


def test_suggest_on_the_replica_listing_then_crawl_with_the_draft(tmp_path, replica, replica_archive):
    out = tmp_path / "draft.toml"
    result = CliRunner().invoke(main, ["probe", "--suggest", f"{replica.base_url}/fotos", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        f"Wrote draft profile {out} (source '127-0-0-1') from 3 record page(s).")
    profile = load_profile(str(out))
    assert profile.record_links == "ul.resultados a.ficha::attr(href)"  # what the hand-written profile says
    assert profile.next_page == "a[rel=next]::attr(href)"
    assert profile.image == "img#foto-principal::attr(src)"
    assert profile.start_urls == (f"{replica.base_url}/fotos",)
    assert normalized(profile.labels) == REPLICA_LABELS
    # the first three records use both date labels, the three markups
    assert {normalize_label(k) for k, v in profile.labels.items() if v == "date_raw"} == {"ano", "fecha"}
    assert {r.markup for r in replica_archive.records[:3]} == {"dl", "table", "li"}

    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    summary = run_crawl(CrawlConfig(profile=str(out), db_url=db_url, images_dir=str(tmp_path / "images"),
                                    concurrency=8, delay=0.0, autothrottle=False, progress=False))
    assert summary.new == len(replica_archive.records) - 1  # all but the robots-disallowed one
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        titles = {r.source_id: r.title for r in session.scalars(select(Record))}
    engine.dispose()
    assert all(titles[r.source_id] == r.fields["Título"] for r in replica_archive.records if r.source_id in titles)


def test_suggest_on_a_record_page_of_each_markup(replica, replica_archive, tmp_path):
    for truth in replica_archive.records[:3]:
        out = tmp_path / f"{truth.markup}.toml"
        result = CliRunner().invoke(main, ["probe", "--suggest", replica.base_url + truth.page_path, "--out", str(out)])
        assert result.exit_code == 0, result.output
        profile = load_profile(str(out))
        shown = {k: v for k, v in REPLICA_LABELS.items() if v != "description" or "Descripción" in truth.fields}
        assert normalized(profile.labels) == shown, truth.markup
        assert list(profile.labels.values()).count("date_raw") == 1
        assert profile.record_links == "a.CHANGE-ME::attr(href)"  # a record page shows no listing
        assert "# CHECK: the URL was a record page" in out.read_text(encoding="utf-8")
    again = CliRunner().invoke(main, ["probe", "--suggest", replica.base_url + truth.page_path, "--out", str(out)])
    assert again.exit_code == 1
    assert again.output.strip() == f"Error: {out} exists: a draft never overwrites a file. Pass another --out or remove it."


def _draft_from_saved(name: str, url: str, tmp_path: Path):
    page = Selector(text=(HTML / name).read_text(encoding="utf-8"))
    suggestion = suggest_from(url, page, [])
    path = tmp_path / f"{name}.toml"
    path.write_text(render_toml(suggestion), encoding="utf-8")
    return suggestion, load_profile(str(path)), page


def test_suggest_on_a_saved_omeka_s_item_page(tmp_path):
    url = "https://memoria.example.org/s/fotos/item/77"
    suggestion, profile, page = _draft_from_saved("omeka_s_item.html", url, tmp_path)
    assert profile.labels == {"Título": "title", "Identificador": "source_id", "Fecha": "date_raw",
                              "Cobertura espacial": "place", "Derechos": "holder", "Descripción": "description"}
    assert suggestion.unmapped == ("Creador",)
    # the image selector leads to the IIIF manifest, and the labels extract with the crawler's own code
    assert extract_image_url(page, profile.image, url) == "https://memoria.example.org/iiif/3/77/manifest"
    fields = extract_fields(page, profile.labels).fields
    assert fields == {"title": "Vendimia en los alrededores de Cenicero", "source_id": "MEM-0077", "date_raw": "195X",
                      "place": "Cenicero", "holder": "Colección Íñiguez",
                      "description": "Cuadrilla de vendimiadores con los cuévanos."}


def test_suggest_on_a_saved_atom_description_page(tmp_path):
    url = "https://atom.example.es/index.php/procesion-de-semana-santa-en-calahorra"
    suggestion, profile, page = _draft_from_saved("atom_description.html", url, tmp_path)
    assert profile.labels == {"Código de referencia": "source_id", "Título": "title", "Fecha(s)": "date_raw",
                              "Institución archivística": "holder", "Alcance y contenido": "description",
                              "Puntos de acceso geográficos": "place"}
    assert suggestion.unmapped == ("Nivel de descripción",)
    assert extract_image_url(page, profile.image, url) == (
        "https://atom.example.es/uploads/r/archivo-historico/a/b/1234_procesion.jpg")  # the file, not the thumbnail
    fields = extract_fields(page, profile.labels).fields
    assert fields["source_id"] == "ES 26089 AHP-1234" and fields["place"] == "Calahorra"
    assert fields["holder"] == "Archivo Histórico Provincial" and fields["date_raw"] == "hacia 1940 (Creación)"
