"""A crawl of a chaotic replica (server errors, dropped connections, slow answers): every record is
stored or its absence has a row with a reason, and reruns fill the gaps until the database equals
a fault-free crawl's."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crawler.replica import ReplicaServer
from crawler.replica.chaos import Chaos, parse_chaos
from crawler.run import StartUnreachable
from db.models import Image, Page, Record
from db.session import make_engine, session_scope
from tests.test_crawl import crawl

# Harsher than `cli.py replica --chaos` so that one run surely leaves gaps: 40% of requests fail,
# so about 6% still fail after Scrapy's two retries.
CHAOS = Chaos(error_rate=0.3, drop_rate=0.1, slow_rate=0.1, slow_s=0.2, seed=1)
MAX_RERUNS = 8
PER_PAGE = 24  # the replica's default listing page size
CHAOS_REASONS = {"http_500", "connection_lost"}


def snapshot(db_url: str, base_url: str) -> dict:
    """Everything a crawl stores, minus timestamps, ids and the server's port."""

    def plain(value):
        return value.replace(base_url, "BASE") if isinstance(value, str) else value

    engine = make_engine(db_url)
    with session_scope(engine) as session:
        records = {
            r.source_id: tuple(plain(getattr(r, c)) for c in (
                "title", "holder", "place", "description", "date_raw", "year", "year_min", "year_max",
                "date_precision", "page_url", "image_url", "status", "error"))
            for r in session.scalars(select(Record))
        }
        images = {
            i.record.source_id: tuple(plain(getattr(i, c)) for c in (
                "url", "status", "error", "sha256", "width", "height", "format", "bytes"))
            for i in session.scalars(select(Image))
        }
        pages = {plain(p.url): (p.kind, p.status, p.http_status, plain(p.error)) for p in session.scalars(select(Page))}
    engine.dispose()
    return {"records": records, "images": images, "pages": pages}


def crawl_through(server, db_url, images_dir):
    """One run; a start page lost to chaos ends the run with StartUnreachable, its row stored."""
    try:
        return crawl(server, db_url, images_dir)
    except StartUnreachable:
        return None


def listing_url(base: str, page: int) -> str:
    return f"{base}/fotos" if page == 1 else f"{base}/fotos?pagina={page}"


def assert_every_record_accounted_for(archive, stored: dict, base: str) -> None:
    """Each record is stored, or its page failed with a reason, or a listing page up to its own failed."""
    failed_listings = [
        page for page in range(1, len(archive.records) // PER_PAGE + 2)
        if stored["pages"].get(listing_url("BASE", page), ("listing", "ok"))[1] == "failed"
    ]
    for index, truth in enumerate(archive.records):
        page_row = stored["pages"].get("BASE" + truth.listed_path)
        if truth.source_id in stored["records"]:
            image = stored["images"][truth.source_id]
            assert image[1] == "ok" or image[2].startswith("image_"), (truth.source_id, image)
        elif page_row is not None:
            assert page_row[1] == "failed" and page_row[3].startswith("page_"), (truth.source_id, page_row)
        else:
            own_page = index // PER_PAGE + 1
            assert failed_listings and failed_listings[0] <= own_page, truth.source_id
    for page in failed_listings:
        assert stored["pages"][listing_url("BASE", page)][3].startswith("listing_")


@pytest.mark.slow
def test_chaos_crawl_accounts_for_every_record_and_reruns_converge_to_a_calm_crawl(tmp_path, replica_archive):
    with ReplicaServer(replica_archive) as calm:
        crawl(calm, f"sqlite:///{tmp_path / 'calm.db'}", tmp_path / "calm")
        expected = snapshot(f"sqlite:///{tmp_path / 'calm.db'}", calm.base_url)

    db_url = f"sqlite:///{tmp_path / 'chaos.db'}"
    with ReplicaServer(replica_archive, chaos=CHAOS) as chaotic:
        first = crawl_through(chaotic, db_url, tmp_path / "chaos")
        log = chaotic.request_log
        assert {status for _, _, status in log} >= {0, 500}  # drops and errors both happened
        after_first = snapshot(db_url, chaotic.base_url)
        assert after_first != expected  # the chaos left gaps to fill
        assert_every_record_accounted_for(replica_archive, after_first, chaotic.base_url)
        if first is not None:
            assert first.internal_errors == 0
            chaos_failures = {reason for reason in first.failed if reason.split("_", 1)[1] in CHAOS_REASONS}
            assert chaos_failures, first.failed

        reruns = 0
        while snapshot(db_url, chaotic.base_url) != expected and reruns < MAX_RERUNS:
            summary = crawl_through(chaotic, db_url, tmp_path / "chaos")
            assert summary is None or summary.internal_errors == 0
            reruns += 1
        final = snapshot(db_url, chaotic.base_url)
    assert final == expected, f"still different after {reruns} reruns"
    assert 1 <= reruns < MAX_RERUNS


def test_chaos_draws_are_fixed_per_path_and_attempt_at_the_asked_rates():
    chaos = Chaos(error_rate=0.2, drop_rate=0.05, slow_rate=0.1, seed=7)
    draws = [chaos.draw(f"/foto/LRM-{i:06d}", attempt) for i in range(4000) for attempt in range(2)]
    assert draws == [chaos.draw(f"/foto/LRM-{i:06d}", attempt) for i in range(4000) for attempt in range(2)]
    shares = {fault: draws.count(fault) / len(draws) for fault in ("error", "drop", "slow")}
    # 8,000 draws: a share's standard error is at most 0.0045; allow four of them.
    assert abs(shares["error"] - 0.2) < 0.018 and abs(shares["drop"] - 0.05) < 0.018
    assert abs(shares["slow"] - 0.1) < 0.018
    assert Chaos(error_rate=0, drop_rate=0, slow_rate=0).draw("/fotos", 0) is None


def test_chaos_spec():
    assert parse_chaos("500=0.5,drop=0,delay=2,seed=3") == Chaos(error_rate=0.5, drop_rate=0.0, slow_s=2.0, seed=3)
    assert parse_chaos("") == Chaos()
    for bad in ("500=1.5", "drops=0.1", "500=x", "500=0.6,drop=0.5"):
        with pytest.raises(Exception, match="Chaos spec"):
            parse_chaos(bad)


def test_cli_replica_refuses_a_bad_chaos_spec():
    from click.testing import CliRunner

    from cli import main

    result = CliRunner().invoke(main, ["replica", "--chaos", "500=2"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: Chaos spec '500=2' has '500=2': expected KEY=VALUE with KEY one of 500, drop, slow, delay, seed, "
        "rates between 0 and 1 and delay in seconds, e.g. --chaos 500=0.2,drop=0.05,slow=0.1.\n"
    )


def test_a_connection_dropped_on_every_try_is_named_as_such(tmp_path, replica_archive):
    with ReplicaServer(replica_archive, chaos=Chaos(error_rate=0, drop_rate=1.0, slow_rate=0)) as server:
        with pytest.raises(StartUnreachable) as caught:
            crawl(server, f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "images")
        tries = [status for _, path, status in server.request_log if path == "/fotos"]
    assert str(caught.value).startswith(
        f"Could not read the start page {server.base_url}/fotos: listing_connection_lost: "
        "the connection closed before a whole answer arrived (")
    assert str(caught.value).endswith("Check the address (is the archive up?) or pass another --start-url.")
    assert len(tries) >= 3 and set(tries) == {0}  # Scrapy's two retries were spent too
