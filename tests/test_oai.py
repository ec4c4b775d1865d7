"""OAI-PMH parsing and the Dublin Core mapping, offline, on saved responses in the shapes DSpace, Omeka and AtoM send."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.dublincore import dc_fields, image_kind, preferred
from crawler.oai import (
    NotOaiResponse,
    from_argument,
    parse_formats,
    parse_identify,
    parse_list,
    verb_url,
)

DATA = Path(__file__).parent / "data" / "oai"


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_dspace_list_records_paging_deleted_and_dates():
    page = parse_list(load("dspace_listrecords.xml"))
    assert page.error is None and page.response_date == "2024-03-05T10:11:12Z"
    assert (page.token, page.complete_list_size, page.expiration_date) == ("oai_dc////100", 2345, "2024-03-05T11:11:12Z")
    live, deleted = page.records
    assert deleted.deleted and deleted.identifier == "oai:repositorio.example.es:123456789/999" and not deleted.dc
    assert live.set_specs == ("com_123456789_1", "col_123456789_42")
    fields = dc_fields(live, holder_element="rights")
    assert fields == {
        "source_id": "oai:repositorio.example.es:123456789/1001",
        "title": "Feria de ganado en Haro",
        "holder": "Archivo Municipal de Haro",
        "place": "Haro (La Rioja)",
        "description": "Vista de la feria desde la plaza de la Paz. Copia en papel baritado.",
        # the accession timestamps are the repository's, not the photograph's
        "date_raw": "[1925?]",
        "page_url": "http://hdl.handle.net/123456789/1001",
        "image_url": "https://repositorio.example.es/bitstream/123456789/1001/1/feria.jpg",
        "image_via": None,
    }
    assert dc_fields(live, holder_element="publisher")["holder"] == "Repositorio de ejemplo"
    assert dc_fields(live, holder_element="creator")["holder"] == "Fotógrafo desconocido"
    assert dc_fields(live, identifier_prefix="oai:repositorio.example.es:")["source_id"] == "123456789/1001"


def test_omeka_latin1_prolog_languages_and_empty_date():
    raw = load("omeka_listrecords_latin1.xml")
    assert "Sáenz".encode("iso-8859-1") in raw and "Sáenz".encode() not in raw  # really ISO-8859-1 bytes
    (record,) = parse_list(raw).records
    fields = dc_fields(record, holder_element="creator")
    assert fields["title"] == "Vendimia en los alrededores de Cenicero"  # es-ES over en
    assert fields["holder"] == "Sáenz, Jesús"  # decoded as the prolog says
    assert fields["description"] == "Cuadrilla de vendimiadores con los cuévanos."
    assert fields["date_raw"] == "195X"  # the empty dc:date is no value
    assert fields["image_url"] == "https://memoria.example.org/files/original/5c2f0e1d.jpg"
    assert fields["page_url"] == "https://memoria.example.org/items/show/77"
    assert record.dc["date"] == [("195X", "")]


def test_atom_iiif_relation_period_coverage_and_last_page():
    page = parse_list(load("atom_listrecords.xml"))
    assert page.token is None and page.complete_list_size is None  # an empty token ends the list
    fields = dc_fields(page.records[0], holder_element="rights")
    assert fields["holder"] is None  # <dc:rights/> is empty
    assert fields["place"] == "Calahorra"  # "1930-1949" in dc:coverage is a period
    assert fields["date_raw"] == "1938-04-14"  # the day beats "hacia 1940" and "1935/1945"
    assert (fields["image_url"], fields["image_via"]) == (
        "https://iiif.example.es/iiif/3/archivo_1234/manifest.json", "iiif_manifest")
    assert fields["page_url"] == "https://atom.example.es/procesion-de-semana-santa-en-calahorra"


def test_error_response_and_identify():
    page = parse_list(load("error_badargument.xml"))
    assert page.error == ("badArgument", "The request includes illegal arguments: from is not a valid date")
    assert page.records == [] and page.token is None
    identify = parse_identify(load("identify_dspace.xml"))
    assert identify.granularity == "YYYY-MM-DDThh:mm:ssZ" and identify.deleted_record == "transient"
    assert identify.repository_name == "Repositorio de ejemplo"
    with pytest.raises(NotOaiResponse, match="Identify answered badArgument"):
        parse_identify(load("error_badargument.xml"))


@pytest.mark.parametrize("body", [b"<html><body>no</body></html>", b"not xml at all", b"<?xml version='1.0'?><x/>"])
def test_not_oai_is_refused(body):
    with pytest.raises(NotOaiResponse):
        parse_list(body)


def test_entities_are_not_expanded():
    body = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>&e;</responseDate></OAI-PMH>')
    assert "root:" not in (parse_list(body).response_date or "")


def test_formats_requests_and_from():
    error, prefixes = parse_formats(
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListMetadataFormats><metadataFormat>'
        b"<metadataPrefix>oai_dc</metadataPrefix></metadataFormat><metadataFormat><metadataPrefix>marcxml"
        b"</metadataPrefix></metadataFormat></ListMetadataFormats></OAI-PMH>")
    assert error is None and prefixes == ["oai_dc", "marcxml"]
    assert verb_url("http://h/oai?verb=Identify", "ListRecords", metadataPrefix="oai_dc", **{"from": "2024-01-02"},
                    set="a:b") == "http://h/oai?verb=ListRecords&metadataPrefix=oai_dc&from=2024-01-02&set=a%3Ab"
    assert from_argument("2024-05-06T07:08:09Z", "YYYY-MM-DD") == "2024-05-06"
    assert from_argument("2024-05-06", "YYYY-MM-DDThh:mm:ssZ") == "2024-05-06"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([("Square", "en"), ("Plaza", "es")], ["Plaza"]),
        ([("Square", "en"), ("Plaza", "")], ["Plaza"]),
        ([("Square", "en"), ("Platz", "de")], ["Square", "Platz"]),
        ([("Plaza", "spa"), ("Calle", "es-ES")], ["Plaza", "Calle"]),
        ([], []),
    ],
)
def test_language_preference(values, expected):
    assert preferred(values) == expected


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://h/iiif/3/x/manifest", "iiif_manifest"),
        ("https://h/presentation/x/manifest.json", "iiif_manifest"),
        ("https://h/iiif/2/x/info.json", "iiif_info"),
        ("https://h/files/original/a.JPG", "image"),
        ("https://h/files/a.tif?download=1", "image"),
        ("https://h/items/show/77", None),
    ],
)
def test_image_kind(url, kind):
    assert image_kind(url) == kind


def test_record_item_loads_as_the_loader_does():
    from crawler.items import RecordLoader, record_item

    values = {"source": "s", "source_id": " A-1 ", "title": "  Plaza\n  Mayor ", "holder": "", "place": None,
              "page_url": "http://h/a b", "image_url": "http://h/i.jpg", "image_via": None}
    loader = RecordLoader()
    for name, value in values.items():
        loader.add_value(name, value)
    assert dict(record_item(values)) == dict(loader.load_item()) == {
        "source": "s", "source_id": "A-1", "title": "Plaza Mayor", "page_url": "http://h/a b", "image_url": "http://h/i.jpg"}


def test_dc_values_read_dc_and_dcterms_only_with_mixed_content_flattened():
    body = b"""<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2024-01-01T00:00:00Z</responseDate>
    <ListRecords><record><header><identifier>oai:x:1</identifier><datestamp>2024-01-01</datestamp></header>
    <metadata><oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/"
        xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"
        xmlns:other="http://example.org/other">
      <dc:title xml:lang="ES">Plaza <i>del</i>  Mercado<!-- a note -->,
        Haro</dc:title>
      <dc:title></dc:title>
      <other:title>not Dublin Core</other:title>
      <dcterms:spatial>Haro</dcterms:spatial>
      <dc:date>1950</dc:date>
    </oai_dc:dc></metadata></record></ListRecords></OAI-PMH>"""
    (record,) = parse_list(body).records
    assert record.dc == {"title": [("Plaza del Mercado, Haro", "es")], "spatial": [("Haro", "")], "date": [("1950", "")]}
