"""The replica's catalogue as evidence: holders' spans, titles that name the year, descriptions mostly
missing, the same fields on every surface (HTML, OAI-PMH Dublin Core, IIIF manifests)."""

from __future__ import annotations

import hashlib
import json
import random
import re
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from crawler.replica import build_archive
from crawler.replica.catalogue import EVENTS, TITLE_FORMS
from crawler.replica.holders import INSTITUTIONS, KINDS, ROSTER_SIZE, draw_roster
from crawler.replica.oai import ID_PREFIX, RIGHTS
from db.dates import parse_date

DC = "{http://purl.org/dc/elements/1.1/}"
YEAR_IN_TEXT = re.compile(r"\b1[89]\d\d\b")


@pytest.fixture(scope="module")
def large():
    """The demo's archive size: enough records for every title form, event and holder kind."""
    return build_archive(2000, seed=0)


def test_ground_truth_is_what_it_was_before_the_catalogue_was_added(large):
    # Years, identifiers, faults, duplicates and pictures of build_archive(2000, 0), hashed from the
    # replica as it was before holders and dated titles existed: tests and the demo rest on them.
    rows = [[r.source_id, r.true_year, r.catalogued_year, r.date_raw, list(r.faults), r.duplicate_of,
             list(r.image_size), r.photo_seed, r.jpeg_quality, r.variant, list(r.print_box) if r.print_box else None,
             r.date_label, r.image_format] for r in large.records]
    digest = hashlib.sha256(json.dumps(rows).encode()).hexdigest()
    assert digest == "c005031b5bf9e75921eee5a8dd39ddfbfa105c5bc9d72b64ddafe7db78567032"


def test_the_catalogue_is_deterministic_and_seeded():
    first, again, other = build_archive(300, seed=4), build_archive(300, seed=4), build_archive(300, seed=5)
    assert [r.fields for r in first.records] == [r.fields for r in again.records]
    assert [r.fields["Título"] for r in first.records] != [r.fields["Título"] for r in other.records]


def test_titles_that_name_a_date_name_the_pictures_year(large):
    forms = Counter(r.text.title_form for r in large.records)
    assert set(forms) == {*TITLE_FORMS, "event"}
    assert 0.5 < forms["plain"] / len(large.records) < 0.8  # most titles name a plain subject
    events = {name: year for name, year, _ in EVENTS}
    for record in large.records:
        text, title = record.text, record.fields["Título"]
        assert title == text.title
        if text.title_form == "plain":
            assert text.title_date is None and text.event_year is None
            assert not YEAR_IN_TEXT.search(title) and "años" not in title and "década" not in title, title
        elif text.title_form == "event":
            assert events[title] == text.event_year == record.true_year
        else:
            assert text.title_date in title, (title, text.title_date)
            stated = parse_date(text.title_date)  # the project's own parser reads the phrase as written
            assert stated.year_min <= record.true_year <= stated.year_max, (title, record.true_year)
            expected_precision = {"year": "year", "decade": "decade", "circa": "circa", "range": "range"}
            assert stated.precision == expected_precision[text.title_form]


def test_a_miscatalogued_duplicates_title_still_names_the_pictures_year(large):
    # The date field may be wrong (a copy catalogued with another year); the title tells the truth.
    wrong = [r for r in large.records if r.catalogued_year is not None and r.catalogued_year != r.true_year]
    assert wrong
    dated = [r for r in wrong if r.text.title_date is not None]
    assert all(parse_date(r.text.title_date).year_min <= r.true_year <= parse_date(r.text.title_date).year_max
               for r in dated)


def test_holders_records_all_fall_in_their_spans(large):
    holders = large.holders()
    counts = Counter(r.holder.name for r in large.records)
    for record in large.records:
        holder = holders[record.holder.name]
        assert holder.first_year <= record.true_year <= holder.last_year, (holder, record.true_year)
        if "Titular" in record.fields:
            assert record.fields["Titular"] == holder.name
    kinds = Counter(h.kind for h in holders.values())
    assert set(kinds) == {"studio", "photographer", "album", "institution", "donor"}
    for holder in holders.values():
        span = holder.last_year - holder.first_year
        if holder.kind in KINDS:
            shortest, longest = KINDS[holder.kind][1]
            assert span <= longest and (span >= shortest or holder.last_year == 1989), holder
        elif holder.kind == "institution":
            assert span >= 60, holder
        else:
            assert 1 <= counts[holder.name] <= 2, holder
    # a studio's dated records span no more than its active years; an institution's span far more
    assert min(h.last_year - h.first_year for h in holders.values() if h.kind == "institution") > max(
        h.last_year - h.first_year for h in holders.values() if h.kind == "studio")
    assert sum(1 for c in counts.values() if c <= 2) >= 5  # holders that say little
    assert max(counts.values()) >= 40  # and holders that say a lot


def test_a_huge_archive_has_a_provinces_holders_each_named_once():
    # Names are drawn from a few surnames: an uncapped roster would run out of them (and never return).
    roster = draw_roster(1_000_000, random.Random(0))
    assert len(roster) == len(INSTITUTIONS) + sum(most for _, _, most in ROSTER_SIZE.values())
    assert len({h.name for h in roster}) == len(roster)


def test_the_year_chooses_the_holder_not_the_holder_the_year(large):
    # A holder active 1905-1932 holds the archive's photographs of those years only; no record moved.
    studios = [h for h in large.holders().values() if h.kind == "studio"]
    assert studios
    for studio in studios:
        years = [r.true_year for r in large.records if r.holder.name == studio.name]
        assert all(studio.first_year <= y <= studio.last_year for y in years)


def test_descriptions_are_mostly_missing(large):
    described = [r for r in large.records if "Descripción" in r.fields]
    assert 0.1 < len(described) / len(large.records) < 0.3
    assert all(r.text.description == r.fields["Descripción"] for r in described)
    dated = [r for r in described if r.text.description_date is not None]
    assert dated
    for record in dated:
        assert record.text.description_date in record.fields["Descripción"]
        stated = parse_date(record.text.description_date)
        assert stated.year_min <= record.true_year <= stated.year_max


def test_a_local_holders_photographs_lean_to_its_town(large):
    local = [r for r in large.records if r.holder.town is not None and r.holder.kind != "donor"
             and r.text.title_form != "event" and "Lugar" in r.fields]
    at_home = sum(r.fields["Lugar"].removesuffix(" (La Rioja)") == r.holder.town for r in local)
    assert at_home / len(local) > 0.5


def test_missing_fields_hides_something_a_record_needs(large):
    for record in large.records:
        if "missing_fields" in record.faults:
            assert not {"Titular", "Lugar"} <= set(record.fields), record.source_id


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read()


def test_oai_and_iiif_serve_the_pages_fields(replica, replica_archive):
    from crawler.replica.iiif import iiif_link

    holder_elements = Counter()
    for number, record in enumerate(replica_archive.records):
        body = _get(f"{replica.base_url}/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier={ID_PREFIX}"
                    f"{record.source_id}")
        dc = ET.fromstring(body).find(".//{http://www.openarchives.org/OAI/2.0/oai_dc/}dc")
        texts = {child.tag.removeprefix(DC): [] for child in dc}
        for child in dc:
            texts[child.tag.removeprefix(DC)].append(child.text)
        assert record.fields["Título"] in texts["title"]
        assert texts["description"] == [record.fields.get("Descripción")]
        assert texts["rights"] == [RIGHTS]
        element = record.holder.dc_element
        if "Titular" in record.fields:
            assert texts[element] == [record.fields["Titular"]]
            holder_elements[element] += 1
        assert ("contributor" if element == "creator" else "creator") not in texts  # one element, never both
        if "Lugar" in record.fields:
            assert texts["coverage"][-1] == record.fields["Lugar"]
        link = iiif_link(record, number)
        if link is not None and link.endswith("/manifest"):
            manifest = json.loads(_get(replica.base_url + link))
            if "/iiif/3/" in link:
                pairs = {m["label"]["es"][0]: m["value"]["es"][0] for m in manifest["metadata"]}
                assert manifest["label"] == {"es": [record.title]}
                assert manifest.get("summary", {}).get("es", [None])[0] == record.fields.get("Descripción")
            else:
                pairs = {m["label"]: m["value"] for m in manifest["metadata"]}
                assert manifest["label"] == record.title
                assert manifest.get("description") == record.fields.get("Descripción")
            assert pairs == record.fields
    assert set(holder_elements) == {"creator", "contributor"}
