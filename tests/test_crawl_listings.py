"""Nested listings (browse by town, then decade) and GET search listings, crawled over real HTTP."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

import crawler.run as crawl_run
from crawler.profile import load_profile
from crawler.replica.browse import decade_slug, town_slug
from crawler.run import CrawlConfig, run_crawl
from db.models import Record
from db.session import make_engine, session_scope


def crawl(server, db_url: str, tmp_path, profile: str = "replica-lugares", start_url: str | None = None):
    return run_crawl(CrawlConfig(profile=profile, start_url=start_url or server.base_url, db_url=db_url,
                                 images_dir=str(tmp_path / "images"), concurrency=8, delay=0.0, autothrottle=False,
                                 progress=False))


def stored_ids(db_url: str) -> set[str]:
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        ids = set(session.scalars(select(Record.source_id)))
    engine.dispose()
    return ids


def test_browse_by_town_reaches_every_record_once(tmp_path, replica, replica_archive):
    summary = crawl(replica, f"sqlite:///{tmp_path / 'a.db'}", tmp_path)
    fetchable = {r.source_id for r in replica_archive.records if "robots_disallowed" not in r.faults}
    assert stored_ids(f"sqlite:///{tmp_path / 'a.db'}") == fetchable
    assert summary.new == len(fetchable) and summary.internal_errors == 0
    hits = replica.hits
    towns = {town_slug(r) for r in replica_archive.records}
    leaves = {(town_slug(r), decade_slug(r)) for r in replica_archive.records}
    # each listing once, in spite of the links back up from every town and decade page
    assert hits["/lugares"] == 1 and all(hits[f"/lugares/{t}"] == 1 for t in towns)
    assert all(hits[f"/lugares/{t}/{d}"] == 1 for t, d in leaves)
    assert summary.listing_pages == 1 + len(towns) + sum(
        -(-sum(1 for r in replica_archive.records if (town_slug(r), decade_slug(r)) == leaf) // 10) for leaf in leaves)


def test_depth_limit_stops_the_descent(tmp_path, replica, monkeypatch):
    shallow = dataclasses.replace(load_profile("replica-lugares"), max_listing_depth=1)
    monkeypatch.setattr(crawl_run, "load_profile", lambda name: shallow)
    summary = crawl(replica, f"sqlite:///{tmp_path / 'a.db'}", tmp_path)
    assert summary.records == 0  # records sit at depth 2
    assert not [p for p in replica.hits if p.count("/") == 3 and p.startswith("/lugares/")]


def test_a_search_listing_reached_by_a_get_query(tmp_path, replica, replica_archive):
    summary = crawl(replica, f"sqlite:///{tmp_path / 'a.db'}", tmp_path, profile="replica",
                    start_url=f"{replica.base_url}/buscar?q=Logro%C3%B1o")
    expected = {r.source_id for r in replica_archive.records if "robots_disallowed" not in r.faults
                and "logrono" in (r.fields["Título"] + r.fields.get("Lugar", "") + r.fields.get("Descripción", ""))
                .lower().replace("ñ", "n")}
    assert len(expected) > 10  # more than one results page
    assert stored_ids(f"sqlite:///{tmp_path / 'a.db'}") == expected and summary.listing_pages >= 2

