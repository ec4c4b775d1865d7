"""OAI-PMH harvests of the replica over real HTTP: same records and images as the HTML crawl,
incremental `from`, deletions, paging faults, sets, IIIF images and the errors that end a harvest."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from PIL import Image as PILImage
from sqlalchemy import select

from cli import main
from crawler.replica import ReplicaServer
from crawler.replica.iiif import iiif_link
from crawler.replica.oai import DAYS, town_set
from crawler.run import CrawlConfig, HarvestRefused, run_crawl
from db.models import OaiHarvest, Record
from db.session import make_engine, session_scope

COMPARED = ("source_id", "title", "holder", "place", "description", "date_raw", "year", "year_min", "year_max",
            "date_precision", "status", "error")


def harvest(server: ReplicaServer, db_url: str, images_dir: Path, **options):
    config = CrawlConfig(profile="replica", oai=f"{server.base_url}/oai", db_url=db_url, images_dir=str(images_dir),
                         concurrency=8, delay=0.0, autothrottle=False, progress=False, **options)
    return run_crawl(config)


def stored(db_url: str) -> dict[str, tuple[dict, list[dict]]]:
    """source_id -> (record columns, [image columns]) of everything stored."""
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        result = {
            r.source_id: ({c: getattr(r, c) for c in (*COMPARED, "image_url", "page_url")},
                          [{"sha256": i.sha256, "status": i.status, "format": i.format, "width": i.width,
                            "height": i.height, "bytes": i.bytes, "url": i.url, "path": i.path,
                            "reason": (i.error or "").split(":")[0]} for i in r.images])
            for r in session.scalars(select(Record))
        }
    engine.dispose()
    return result


@pytest.fixture(scope="module")
def both(tmp_path_factory, replica_archive):
    """One HTML crawl and one OAI harvest of the same replica (small OAI pages, so the faults show)."""
    from crawler.run import CrawlConfig as Config

    tmp = tmp_path_factory.mktemp("both")
    with ReplicaServer(replica_archive, oai_page_size=20) as server:
        run_crawl(Config(profile="replica", start_url=server.base_url, db_url=f"sqlite:///{tmp / 'html.db'}",
                         images_dir=str(tmp / "images"), concurrency=8, delay=0.0, autothrottle=False, progress=False))
        server.reset_hits()
        summary = harvest(server, f"sqlite:///{tmp / 'oai.db'}", tmp / "images")
        yield {"html": stored(f"sqlite:///{tmp / 'html.db'}"), "oai": stored(f"sqlite:///{tmp / 'oai.db'}"),
               "summary": summary, "log": server.request_log, "base": server.base_url, "db": f"sqlite:///{tmp / 'oai.db'}"}


def test_oai_harvest_stores_the_same_records_and_images_as_the_html_crawl(both, replica_archive):
    html, oai = both["html"], both["oai"]
    robots = {r.source_id for r in replica_archive.records if "robots_disallowed" in r.faults}
    # The HTML crawl cannot read a page robots.txt forbids; the OAI list carries its metadata.
    assert set(oai) - set(html) == robots and set(html) <= set(oai)
    for source_id, (record, images) in html.items():
        other, other_images = oai[source_id]
        assert {c: record[c] for c in COMPARED} == {c: other[c] for c in COMPARED}, source_id
        strip = [{k: v for k, v in i.items() if k not in ("url", "path")} for i in images]
        assert strip == [{k: v for k, v in i.items() if k not in ("url", "path")} for i in other_images], source_id
    # The catalogue, checked against what the replica's pages say: the holder comes from dc:creator or
    # dc:contributor (the profile names both), never from dc:rights, which is a rights statement.
    for truth in replica_archive.records:
        record = oai[truth.source_id][0]
        assert (record["title"], record["holder"], record["place"], record["description"]) == (
            truth.fields["Título"], truth.fields.get("Titular"), truth.fields.get("Lugar"),
            truth.fields.get("Descripción")), truth.source_id
    # Byte-identical files, checked against the replica's own bytes rather than the other crawl.
    for truth in replica_archive.records:
        if truth.faults:
            continue
        (image,) = oai[truth.source_id][1]
        assert image["sha256"] == hashlib.sha256(replica_archive.image_bytes(truth.source_id)).hexdigest()
        assert Path(image["path"]).read_bytes() == replica_archive.image_bytes(truth.source_id)


def test_iiif_records_link_a_manifest_and_store_the_original_bytes(both, replica_archive):
    base = both["base"]
    linked = [(i, r) for i, r in enumerate(replica_archive.records) if iiif_link(r, i)]
    assert {iiif_link(r, i).rsplit("/", 1)[-1] for i, r in linked} == {"manifest", "info.json"}
    assert {iiif_link(r, i).split("/")[2] for i, r in linked} == {"2", "3"}
    for number, truth in linked:
        record, (image,) = both["oai"][truth.source_id]
        assert record["image_url"] == base + iiif_link(truth, number)
        version = iiif_link(truth, number).split("/")[2]
        assert image["url"] == f"{base}/iiif/{version}/{truth.source_id}/full/{'max' if version == '3' else 'full'}/0/default.jpg"
        assert image["status"] == "ok" and image["width"], truth.source_id


def test_paging_faults_are_survived(both):
    summary, log = both["summary"], both["log"]
    oai = [(t, urlsplit(path).query, status) for t, path, status in log if path.startswith("/oai")]
    verbs = [parse_qs(q)["verb"][0] for _, q, _ in oai]
    assert verbs[:2] == ["Identify", "ListMetadataFormats"]
    throttled = [(t, q) for t, q, status in oai if status == 503]
    assert len(throttled) == 1
    retry = next(t for t, q, status in oai if q == throttled[0][1] and status == 200)
    assert retry - throttled[0][0] >= 1.0  # Retry-After: 1
    assert summary.failed.get("listing_oai_badResumptionToken") == 1
    # the list restarted: its first page was asked twice, and nothing was stored twice
    firsts = [q for _, q, _ in oai if "metadataPrefix" in q]
    assert len(firsts) == 2
    assert summary.new == len(both["oai"]) and summary.updated == summary.unchanged == 0


def test_incremental_harvest_asks_from_and_marks_deletions(tmp_path, replica_archive):
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    with ReplicaServer(replica_archive, oai_faults=False) as server:
        first = harvest(server, db_url, tmp_path / "images")
        engine = make_engine(db_url)
        with session_scope(engine) as session:
            (state,) = session.scalars(select(OaiHarvest)).all()
            response_date = state.response_date
            assert (state.source, state.set_spec, state.granularity) == ("replica", "", "YYYY-MM-DDThh:mm:ssZ")
            assert state.records == len(replica_archive.records) + 3 and state.deleted == 3
        server.reset_hits()
        second = harvest(server, db_url, tmp_path / "images")
        (query,) = [urlsplit(p).query for _, p, _ in server.request_log if "ListRecords" in p]
        assert parse_qs(query)["from"] == [response_date]
        assert (second.new, second.updated, second.deleted) == (0, 0, 0)
        # records whose image failed are not listed again (unchanged since `from`): asked for one by one
        image_faulted = {r.source_id for r in replica_archive.records
                         if set(r.faults) & {"image_404", "image_html", "image_truncated"}}
        asked = {parse_qs(urlsplit(p).query)["identifier"][0].rsplit(":", 1)[-1]
                 for _, p, _ in server.request_log if "GetRecord" in p}
        assert asked == image_faulted and second.unchanged == len(image_faulted) == 3

        victim = replica_archive.records[4]
        server.oai.withdraw(victim.source_id)
        third = harvest(server, db_url, tmp_path / "images")
        assert third.deleted == 1 and third.new == 0
    with session_scope(engine) as session:
        record = session.scalars(select(Record).where(Record.source_id == victim.source_id)).one()
        assert record.status == "deleted" and record.error.startswith("record_deleted: ")
        assert record.title == victim.fields["Título"]  # fields kept
        (image,) = record.images
        assert image.status == "ok" and Path(image.path).read_bytes() == replica_archive.image_bytes(victim.source_id)
        assert session.query(Record).count() == first.new
    engine.dispose()


def test_day_granularity_is_honoured_in_from(tmp_path, replica_archive):
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    with ReplicaServer(replica_archive, oai_faults=False, oai_granularity=DAYS) as server:
        harvest(server, db_url, tmp_path / "images")
        server.reset_hits()
        harvest(server, db_url, tmp_path / "images")
        (query,) = [urlsplit(p).query for _, p, _ in server.request_log if "ListRecords" in p]
    (since,) = parse_qs(query)["from"]
    assert len(since) == 10 and since[4] == "-"  # YYYY-MM-DD: the replica would answer badArgument to seconds


def test_set_harvest_gets_only_that_town(tmp_path, replica_archive):
    wanted = town_set(replica_archive.records[0])
    with ReplicaServer(replica_archive, oai_faults=False) as server:
        summary = harvest(server, f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "images", oai_set=wanted)
        assert any("verb=ListSets" in p for _, p, _ in server.request_log)
    expected = {r.source_id for r in replica_archive.records if town_set(r) == wanted}
    assert 1 <= len(expected) < len(replica_archive.records)
    assert set(stored(f"sqlite:///{tmp_path / 'a.db'}")) == expected and summary.new == len(expected)


def test_image_size_bounds_the_iiif_picture(tmp_path, replica_archive):
    with ReplicaServer(replica_archive, oai_faults=False) as server:
        harvest(server, f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "images", iiif_size="100")
    records = stored(f"sqlite:///{tmp_path / 'a.db'}")
    linked = [r for i, r in enumerate(replica_archive.records) if iiif_link(r, i)]
    for truth in linked:
        (image,) = records[truth.source_id][1]
        picture = PILImage.open(io.BytesIO(Path(image["path"]).read_bytes()))
        width, height = truth.image_size
        scale = 100 / max(width, height)
        assert picture.size == (round(width * scale), round(height * scale)), truth.source_id
    plain = next(r for i, r in enumerate(replica_archive.records) if not r.faults and not iiif_link(r, i))
    assert records[plain.source_id][1][0]["width"] == plain.image_size[0]  # not IIIF: stored as served


def test_refused_harvests_end_with_one_line(tmp_path, replica_archive):
    with ReplicaServer(replica_archive, oai_formats=("marcxml",)) as server:
        with pytest.raises(HarvestRefused, match="does not offer oai_dc records .*it offers marcxml"):
            harvest(server, f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "images")
    with ReplicaServer(replica_archive) as server:
        result = CliRunner().invoke(main, ["crawl", "--profile", "replica", "--oai", f"{server.base_url}/oai",
                                           "--set", "lugar:atlantis", "--db", f"sqlite:///{tmp_path / 'b.db'}",
                                           "--images-dir", str(tmp_path / "i"), "--no-autothrottle", "--delay", "0"])
        assert result.exit_code == 1
        error = result.output.strip().splitlines()[-1]
        assert error.startswith(f"Error: {server.base_url}/oai has no set 'lugar:atlantis': expected one of lugar:")
        assert error.endswith("Fix --set.")
        result = CliRunner().invoke(main, ["crawl", "--profile", "replica", "--oai", f"{server.base_url}/fotos",
                                           "--db", f"sqlite:///{tmp_path / 'c.db'}", "--images-dir", str(tmp_path / "i"),
                                           "--no-autothrottle", "--delay", "0"])
        assert result.exit_code == 1
        assert result.output.strip().splitlines()[-1].startswith(
            f"Error: {server.base_url}/fotos does not answer OAI-PMH ?verb=Identify (not XML")
    engine = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    with session_scope(engine) as session:
        assert session.query(OaiHarvest).count() == 0  # a refused harvest is not a complete one
    engine.dispose()


def test_image_size_option_is_checked():
    result = CliRunner().invoke(main, ["crawl", "--oai", "http://127.0.0.1:9/oai", "--image-size", "huge"])
    assert result.exit_code == 2
    assert "Invalid value for '--image-size': expected 'max' or a long side in pixels such as 2048, got 'huge'" in result.output
