"""Harvest integrity against faults and hostile OAI-PMH servers (issue 17 items 1, 2, 5, 9).

No record is lost for good: a harvest advances its incremental `from` only when every listed record
was stored or is a row with its reason; resumptionTokens that repeat, cycle or outgrow a URL do not
loop or cut the list short; a badResumptionToken restarts from the last good datestamp.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from oai_hostile import HostileOai, records_page, sets_page, source_id
from sqlalchemy import select, text

from cli import main
from crawler.replica import ReplicaServer
from crawler.replica.oai import DATESTAMP_STEP, FIRST_DATESTAMP, town_set
from crawler.run import CrawlConfig, run_crawl
from db.models import OaiHarvest, Page, Record
from db.session import make_engine, session_scope


def crawl_cli(oai: str, db_url: str, images_dir: Path, *extra: str):
    return CliRunner().invoke(main, ["crawl", "--profile", "replica", "--oai", oai, "--db", db_url,
                                     "--images-dir", str(images_dir), "--no-autothrottle", "--delay", "0",
                                     "--concurrency", "8", *extra])


def source_ids(db_url: str) -> list[str]:
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        ids = sorted(session.scalars(select(Record.source_id)))
    engine.dispose()
    return ids


def harvest(server: ReplicaServer, db_url: str, images_dir: Path, **options):
    return run_crawl(CrawlConfig(profile="replica", oai=f"{server.base_url}/oai", db_url=db_url,
                                 images_dir=str(images_dir), concurrency=8, delay=0.0, autothrottle=False,
                                 progress=False, **options))


def replica_datestamp(number: int) -> str:
    return (FIRST_DATESTAMP + number * DATESTAMP_STEP).strftime("%Y-%m-%dT%H:%M:%SZ")


def page_errors(db_url: str) -> list[tuple[str, str, str]]:
    """(kind, status, reason) of the failed page rows."""
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        rows = [(p.kind, p.status, p.error.split(":")[0]) for p in session.scalars(select(Page))
                if p.status == "failed"]
    engine.dispose()
    return rows


def stored_dates(db_url: str) -> dict[str, str]:
    """set_spec -> the response_date its incremental state keeps."""
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        dates = {h.set_spec: h.response_date for h in session.scalars(select(OaiHarvest))}
    engine.dispose()
    return dates


def harvests(db_url: str) -> int:
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        count = session.query(OaiHarvest).count()
    engine.dispose()
    return count


def refuse_records(engine, refused: list[str]) -> None:
    """Make an SQLite file's records table refuse these source ids (a trigger): the database says no, as a full
    disk would; DROP TRIGGER refuse lets them in again."""
    with engine.begin() as connection:
        connection.execute(text(
            "CREATE TRIGGER refuse BEFORE INSERT ON records WHEN NEW.source_id IN "
            f"({', '.join(repr(s) for s in refused)}) BEGIN SELECT RAISE(ABORT, 'injected fault'); END"))


def not_stored_line(count: int) -> str:
    """The crawl's last line when `count` listed records could not be stored."""
    return (f"Error: The harvest is not complete: {count} listed records or rows could not be stored "
            "(see failed by reason). Rerun the same command: it lists them again.")


def test_records_the_database_refuses_keep_the_harvest_incomplete_and_the_rerun_stores_them(tmp_path,
                                                                                              replica_archive):
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    refused = [r.source_id for r in replica_archive.records[25:31]]
    engine = make_engine(db_url)
    refuse_records(engine, refused)  # the database itself refuses these rows, as a full disk would
    with ReplicaServer(replica_archive, oai_faults=False, oai_page_size=20) as server:
        result = crawl_cli(f"{server.base_url}/oai", db_url, tmp_path / "images")
        assert result.exit_code == 1, result.output
        assert f"record_not_stored {len(refused)}" in " ".join(result.output.split()), result.output
        assert result.output.strip().splitlines()[-1] == not_stored_line(len(refused))
        assert harvests(db_url) == 0  # `from` did not advance
        assert not set(refused) & set(source_ids(db_url))
        with engine.begin() as connection:
            connection.execute(text("DROP TRIGGER refuse"))
        rerun = crawl_cli(f"{server.base_url}/oai", db_url, tmp_path / "images")
        assert rerun.exit_code == 0, rerun.output
        assert "records: 6 new" in rerun.output
    with engine.connect() as connection:
        statuses = [status for (status,) in connection.execute(text("SELECT status FROM crawl_runs ORDER BY id"))]
    engine.dispose()
    assert statuses == ["incomplete", "finished"]
    assert "Crawl run 1 (replica) finished, not complete, in " in result.output
    assert source_ids(db_url) == sorted(r.source_id for r in replica_archive.records)
    assert harvests(db_url) == 1


def last_line(result) -> str:
    return result.output.strip().splitlines()[-1]


@pytest.mark.parametrize(("token_of", "pages"), [
    (lambda k: "A" if k <= 5 else None, 2),  # the same token again and again
    (lambda k: "AB"[(k - 1) % 2] if k <= 5 else None, 3),  # A -> B -> A
], ids=["repeat", "cycle"])
def test_repeating_or_cycling_tokens_end_the_harvest_with_one_error(tmp_path, token_of, pages):
    db_url = f"sqlite:///{tmp_path / 'a.db'}"

    def lists(verb, args):
        token = args.get("resumptionToken")
        page = 0 if token is None else (1 if token == "A" else 2)
        return records_page(range(page * 10, page * 10 + 10), token_of(page + 1))

    with HostileOai(lists) as server:
        result = crawl_cli(f"{server.base_url}/oai", db_url, tmp_path / "images")
        assert len(server.verbs("ListRecords")) == pages
    assert result.exit_code == 1, result.output
    assert last_line(result) == (
        f"Error: {server.base_url}/oai sent the resumptionToken 'A' a second time, after {pages} pages (the tokens "
        "repeat or cycle) in ListRecords: the list would never end, so the harvest stopped there. The records "
        "listed so far are stored; tell the archive, or harvest one --set at a time.")
    assert len(source_ids(db_url)) == 10 * pages and harvests(db_url) == 0
    assert page_errors(db_url) == [("listing", "failed", "listing_oai_endless_list")]


@pytest.mark.parametrize(("complete", "pages"), [(30, 2 * 3 + 10), (None, 1 + 50)], ids=["completeListSize", "none"])
def test_fresh_tokens_that_list_nothing_new_are_capped(tmp_path, complete, pages):
    """New tokens forever, each for the first page again: capped by completeListSize, or by pages without news."""
    def lists(verb, args):
        return records_page(range(10), f"t{len(server.verbs('ListRecords'))}", complete)

    with HostileOai(lists) as server:
        result = crawl_cli(f"{server.base_url}/oai", f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "images")
        assert len(server.verbs("ListRecords")) == pages
    assert result.exit_code == 1 and "the list would never end" in last_line(result)


def test_cycling_set_tokens_end_the_harvest(tmp_path):
    def lists(verb, args):
        if verb == "ListSets":
            return sets_page(["a"] if args.get("resumptionToken") != "A" else ["b"],
                             "B" if args.get("resumptionToken") == "A" else "A")
        return records_page(range(3), None)

    with HostileOai(lists) as server:
        result = crawl_cli(f"{server.base_url}/oai", f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "images",
                           "--set", "zzz")
        assert len(server.verbs("ListSets")) == 3 and not server.verbs("ListRecords")
    assert result.exit_code == 1
    assert "sent the resumptionToken 'A' a second time, after 3 pages (the tokens repeat or cycle) in ListSets" in (
        last_line(result))


def test_tokens_longer_than_a_url_may_be_are_sent_by_post(tmp_path):
    long_token = "x" * 3000

    def lists(verb, args):
        token = args.get("resumptionToken")
        page = 0 if token is None else int(token.removeprefix(long_token))
        return records_page(range(page * 10, page * 10 + 10), f"{long_token}{page + 1}" if page < 2 else None, 30)

    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    with HostileOai(lists) as server:
        result = crawl_cli(f"{server.base_url}/oai", db_url, tmp_path / "images")
        methods = [method for method, _ in server.verbs("ListRecords")]
    assert result.exit_code == 0, result.output
    assert methods == ["GET", "POST", "POST"]
    assert source_ids(db_url) == sorted(source_id(n) for n in range(30)) and harvests(db_url) == 1


def test_an_html_page_in_the_middle_of_a_list_is_one_clear_error(tmp_path):
    def lists(verb, args):
        if "resumptionToken" in args:
            return 200, "text/html; charset=utf-8", b"<!DOCTYPE html><html><body><form>Login</form></body></html>"
        return records_page(range(10), "next")

    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    with HostileOai(lists) as server:
        result = crawl_cli(f"{server.base_url}/oai", db_url, tmp_path / "images")
    assert result.exit_code == 1
    assert last_line(result).startswith(
        f"Error: {server.base_url}/oai answered ListRecords with an HTML page that is not OAI-PMH XML (")
    assert last_line(result).endswith(
        "Is the repository down or behind a login? Check --oai (cli.py probe URL finds the OAI-PMH address).")
    assert len(source_ids(db_url)) == 10 and harvests(db_url) == 0
    assert page_errors(db_url) == [("listing", "failed", "listing_oai_not_oai")]


def test_bad_resumption_token_restarts_from_the_last_good_datestamp(tmp_path, replica_archive):
    """The replica answers badResumptionToken once, for the third page: the list goes on from the second's last
    datestamp instead of from the start, and ends with every record."""
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    with ReplicaServer(replica_archive, oai_page_size=20) as server:
        summary = harvest(server, db_url, tmp_path / "images")
        firsts = [parse_qs(urlsplit(p).query) for _, p, status in server.request_log
                  if "metadataPrefix" in p and "ListRecords" in p]
    assert len(firsts) == 2 and "from" not in firsts[0]
    assert firsts[1]["from"] == [replica_datestamp(39)]  # the 40th record's, the last one listed before the fault
    assert summary.failed["listing_oai_badResumptionToken"] == 1 and summary.unfinished is None
    assert source_ids(db_url) == sorted(r.source_id for r in replica_archive.records)
    assert harvests(db_url) == 1


def test_a_list_out_of_datestamp_order_restarts_from_the_start(tmp_path):
    order = [*range(10, 20), *range(0, 10), *range(20, 30)]  # the second page is older than the first

    def lists(verb, args):
        token = args.get("resumptionToken")
        if token == "p2" and not expired:
            expired.append(token)
            return f'<error code="badResumptionToken">expired {token}</error>'
        page = {None: 0, "p1": 1, "p2": 2}[token]
        chunk = order[page * 10:page * 10 + 10]
        return records_page(chunk, f"p{page + 1}" if page < 2 else None)

    expired: list[str] = []
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    with HostileOai(lists) as server:
        result = crawl_cli(f"{server.base_url}/oai", db_url, tmp_path / "images")
        firsts = [args for _, args in server.verbs("ListRecords") if "resumptionToken" not in args]
    assert result.exit_code == 0, result.output
    assert [a.get("from") for a in firsts] == [None, None]
    assert source_ids(db_url) == sorted(source_id(n) for n in range(30))


def test_incremental_state_is_kept_per_set(tmp_path, replica_archive):
    towns = sorted({town_set(r) for r in replica_archive.records} - {None})[:2]
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    with ReplicaServer(replica_archive, oai_faults=False) as server:
        for town in towns:
            harvest(server, db_url, tmp_path / "images", oai_set=town)
        dates = stored_dates(db_url)
        assert set(dates) == set(towns)
        server.reset_hits()
        for town in reversed(towns):
            harvest(server, db_url, tmp_path / "images", oai_set=town)
        asked = [parse_qs(urlsplit(p).query) for _, p, _ in server.request_log if "verb=ListRecords" in p]
    assert [(q["set"], q["from"]) for q in asked] == [([t], [dates[t]]) for t in reversed(towns)]


def test_a_list_page_that_cannot_be_read_is_never_a_finished_harvest(tmp_path):
    def lists(verb, args):
        if "resumptionToken" in args:
            return 500, "text/plain", b"Internal Server Error"
        return records_page(range(10), "next", 20)

    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    with HostileOai(lists) as server:
        result = crawl_cli(f"{server.base_url}/oai", db_url, tmp_path / "images")
        assert len(server.verbs("ListRecords")) == 1 + 3  # the page, then its two retries
    assert result.exit_code == 1, result.output
    assert "listing_http_500 1" in " ".join(result.output.split())
    assert last_line(result) == ("Error: The harvest is not complete: a page of the list could not be read (see "
                                 "failed by reason). Rerun the same command: it lists the repository again.")
    assert len(source_ids(db_url)) == 10 and harvests(db_url) == 0


def test_a_list_restarted_from_the_start_is_not_taken_for_an_endless_one(tmp_path):
    """60 one-record pages out of datestamp order; the 56th token has expired: the list restarts from the start,
    and its first 55 pages (nothing new to the harvest, but new to this pass) are read again to the end."""
    order = [*range(30, 60), *range(0, 30)]
    expired: list[str] = []

    def lists(verb, args):
        token = args.get("resumptionToken")
        if token == "p55" and not expired:
            expired.append(token)
            return f'<error code="badResumptionToken">expired {token}</error>'
        page = int(token.removeprefix("p")) if token else 0
        return records_page(order[page:page + 1], f"p{page + 1}" if page < 59 else None)

    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    with HostileOai(lists) as server:
        result = crawl_cli(f"{server.base_url}/oai", db_url, tmp_path / "images")
        assert len(server.verbs("ListRecords")) == 56 + 60
    assert result.exit_code == 0, result.output
    assert source_ids(db_url) == sorted(source_id(n) for n in range(60)) and harvests(db_url) == 1
