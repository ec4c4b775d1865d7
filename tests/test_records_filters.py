"""/records for a cataloguer: filters for period, holder, suspect, undated and who estimated; words a cataloguer
understands; suspect only where the catalogued date (its whole range) lies outside the interval; every answer
shown consistent; percentages that never wrap."""

from __future__ import annotations

import re
import shutil

import pytest
import torch
from answer_checks import check_answer
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from db.estimates import refresh_estimates
from db.models import Image, ImageEstimate, Record
from db.session import make_engine, session_scope
from modeling.app.records import is_suspect, records_query
from modeling.app.server import AppConfig, create_app

torch.set_num_threads(1)
EDGES = (1860, 1880, 1900, 1920, 1940, 1960, 1980, 2000)
LABELS = ("1860-1879", "1880-1899", "1900-1919", "1920-1939", "1940-1959", "1960-1979", "1980-1999")
# source_id -> the estimate planted after dating: (year, low, high, period)
PLANTED = {
    "LRM-000000": (1870, 1865, 1875, "1860-1879"),
    "LRM-000001": (1905, 1900, 1910, "1900-1919"),
    "LRM-000002": (1950, 1940, 1960, "1940-1959"),  # catalogued 1931: suspect
    "LRM-000003": (1958, 1953, 1963, "1940-1959"),
    "LRM-000004": (1975, 1968, 1990, "1960-1979"),  # catalogued 1966, as the range 1960-1970: overlaps, not suspect
    "LRM-000005": (1984, 1979, 1989, "1980-1999"),
    "LRM-000300": (1901, 1890, 1915, "1900-1919"),  # undated
}


def rows(page: str) -> list[str]:
    return re.findall(r'data-source-id="([^"]+)"', page)


@pytest.fixture
def records_app(app_run_dir, app_archive_db, tmp_path):
    engine = make_engine(app_archive_db)
    with session_scope(engine) as session:
        first = session.scalar(select(Image.path).where(Image.status == "ok").order_by(Image.id))
        copy = tmp_path / "undated.jpg"
        shutil.copy(first, copy)
        session.add(Record(source="replica", source_id="LRM-000300", title="Sin fecha", date_raw="s.f.",
                           images=[Image(url="http://127.0.0.1/undated.jpg", path=str(copy), status="ok")]))
        session.execute(update(Record).where(Record.source_id.in_(["LRM-000000", "LRM-000001"]))
                        .values(holder="Estudio Ruiz"))
        session.execute(update(Record).where(Record.source_id == "LRM-000004").values(year_min=1960, year_max=1970))
    app = create_app(AppConfig(run_dir=app_run_dir, db_url=app_archive_db, records_per_page=25,
                               precompute_records=True, dating_progress_bar=False))
    with TestClient(app) as client:
        assert app.state.dater.join(timeout=60)
        with session_scope(engine) as session:
            images = {sid: iid for sid, iid in session.execute(select(Record.source_id, Image.id).join(Image))}
            for source_id, (year, low, high, period) in PLANTED.items():
                session.execute(update(ImageEstimate).where(ImageEstimate.image_id == images[source_id])
                                .values(year=year, low=low, high=high, period=period, unsure=False))
            session.execute(update(ImageEstimate).where(ImageEstimate.image_id == images["LRM-000003"])
                            .values(kind="out_of_fold"))
            refresh_estimates(session.connection())  # what every writer of estimates does (db/estimates.py)
        engine.dispose()
        yield client


@pytest.mark.backends("sqlite", "postgresql")
def test_filters_find_suspect_undated_holder_period_and_kind(records_app):
    get = lambda query: records_app.get(f"/records?lang=en&{query}").text  # noqa: E731
    assert rows(get("suspect=1")) == ["LRM-000002"]
    assert sorted(rows(get("undated=1"))) == ["LRM-000103", "LRM-000300"]
    assert sorted(rows(get("holder=Estudio+Ruiz"))) == ["LRM-000000", "LRM-000001"]
    assert sorted(rows(get("period=1940-1959"))) == ["LRM-000002", "LRM-000003"]
    assert rows(get("kind=out_of_fold")) == ["LRM-000003"]
    assert sorted(rows(get("period=1900-1919&undated=1"))) == ["LRM-000300"]
    page = get("period=1940-1959")
    assert "2 of 11 records" in page and 'id="filter-clear"' in page
    assert '<option value="1940-1959" selected>' in page


@pytest.mark.backends("sqlite", "postgresql")
def test_pager_and_sort_links_keep_the_filters(records_app):
    page = records_app.get("/records?lang=en&period=1940-1959&sort=year&suspect=on").text
    assert 'href="/records?page=1&amp;sort=disagreement&amp;period=1940-1959&amp;suspect=1&amp;lang=en"' in page
    query = records_query({"page": "x", "sort": "nope", "holder": " Estudio Ruiz ", "kind": "bogus", "undated": "1"}, 25)
    assert (query.page, query.sort, query.holder, query.kind, query.undated) == (1, "disagreement", "Estudio Ruiz",
                                                                                 None, True)
    assert query.link(page=2, lang="es") == "/records?page=2&sort=disagreement&holder=Estudio+Ruiz&undated=1&lang=es"


def test_pages_use_words_a_cataloguer_understands_and_answers_are_consistent(records_app):
    english = records_app.get("/records?lang=en").text
    spanish = records_app.get("/records?lang=es").text
    assert "about 1 in 5 correct dates falls outside it" in english
    assert "más o menos 1 de cada 5 fechas correctas queda fuera" in spanish
    for page in (english, spanish):
        assert "out-of-fold" not in page.lower() and "fuera de pliegue" not in page.lower()
        assert re.search(r"\d %", page) is None  # a number and its % never part (non-breaking space)
        shown = re.findall(r'class="answer" data-year="(\d+)" data-low="(\d+)" data-high="(\d+)" '
                           r'data-period="([^"]+)" data-unsure="(yes|no)"', page)
        assert len(shown) == 7
        for year, low, high, period, unsure in shown:
            check_answer(int(year), int(low), int(high), period, EDGES, LABELS, unsure == "yes")
    assert ">estimated by a model that never saw this photograph<" in english
    assert ">estimado por un modelo que nunca vio esta fotografía<" in spanish
    suspect = re.findall(r'<tr class="suspect" data-record-id="\d+" data-source-id="([^"]+)"', english)
    assert suspect == ["LRM-000002"]
    assert "the catalogued date lies outside the estimated interval" in english


def test_suspect_by_hand():
    assert is_suspect(1931, None, None, 1940, 1960)
    assert not is_suspect(1966, 1960, 1970, 1968, 1990)  # the range overlaps the interval
    assert is_suspect(1995, 1990, 1999, 1940, 1960) and not is_suspect(None, None, None, 1940, 1960)
    assert not is_suspect(1940, None, None, 1940, 1960) and not is_suspect(1960, None, None, 1940, 1960)
