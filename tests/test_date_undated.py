"""`cli.py date-undated`: every record without a catalogued year is estimated once per model, with its evidence,
resumably, never touching catalogue fields; --csv writes consistent suggestions for the cataloguing system."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch
from answer_checks import check_answer
from click.testing import CliRunner
from safetensors.torch import load_file, save_file
from sqlalchemy import select

from cli import main
from db.models import Image, ImageEstimate, Record
from db.session import make_engine, session_scope
from modeling.app.dating import model_key

torch.set_num_threads(1)


def catalogue(db_url: str) -> list[tuple]:
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        rows = [tuple(r) for r in session.execute(select(Record.source_id, Record.title, Record.date_raw, Record.year,
                                                         Record.year_min, Record.year_max, Record.holder)
                                                  .order_by(Record.id))]
    engine.dispose()
    return rows


def estimates(db_url: str) -> list[tuple]:
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        rows = [tuple(r) for r in session.execute(
            select(Record.source_id, ImageEstimate.model_key, ImageEstimate.status, ImageEstimate.sources,
                   ImageEstimate.evidence).join(Image, Image.id == ImageEstimate.image_id)
            .join(Record, Record.id == Image.record_id).order_by(Record.id, ImageEstimate.model_key))]
    engine.dispose()
    return rows


@pytest.fixture
def undated_db(app_archive_db: str, tmp_path: Path) -> str:
    """app_archive_db plus two undated records with stored photographs (one with a holder) and one unreadable."""
    engine = make_engine(app_archive_db)
    with session_scope(engine) as session:
        first = session.scalar(select(Image.path).where(Image.status == "ok").order_by(Image.id))
        for i, holder in enumerate(("Estudio Ruiz", None)):
            copy = tmp_path / f"undated{i}.jpg"
            shutil.copy(first, copy)
            session.add(Record(source="replica", source_id=f"LRM-00030{i}", title="Plaza", date_raw="s.f.",
                               holder=holder, images=[Image(url=f"http://127.0.0.1/u{i}.jpg", path=str(copy),
                                                            status="ok")]))
        bad = tmp_path / "bad.jpg"
        bad.write_bytes(b"not a picture")
        session.add(Record(source="replica", source_id="LRM-000302", date_raw=None,
                           images=[Image(url="http://127.0.0.1/bad.jpg", path=str(bad), status="ok")]))
    engine.dispose()
    return app_archive_db


@pytest.mark.backends("sqlite", "postgresql")
def test_date_undated_estimates_only_the_undated_resumes_and_writes_suggestions(app_run_dir, undated_db, tmp_path):
    before = catalogue(undated_db)
    suggestions = tmp_path / "out" / "suggestions.csv"
    args = ["date-undated", "--model", str(app_run_dir), "--db", undated_db, "--quiet"]
    result = CliRunner().invoke(main, [*args, "--csv", str(suggestions)])
    assert result.exit_code == 0, result.output
    key = model_key(app_run_dir)
    assert result.stdout.splitlines() == [
        "4 record(s) without a catalogued year (1 with no stored photograph). Estimated 3 photograph(s) now, "
        f"0 already estimated by {key}; 1 could not be read.",
        f"2 suggestion(s) written to {suggestions}"]
    rows = estimates(undated_db)
    assert [(r[0], r[2]) for r in rows] == [("LRM-000300", "ok"), ("LRM-000301", "ok"), ("LRM-000302", "unreadable")]
    assert rows[0][3] == "picture" and json.loads(rows[0][4])[0]["source"] == "picture"
    assert catalogue(undated_db) == before  # catalogue fields untouched

    config = json.loads((app_run_dir / "config.json").read_text())
    edges, labels = config["bins"]["edges"], config["bins"]["labels"]
    with suggestions.open(newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert [r["source_id"] for r in table] == ["LRM-000300", "LRM-000301"]
    assert list(table[0]) == ["source_id", "title", "holder", "catalogued_date", "estimate", "low", "high", "period",
                              "unsure", "evidence_es", "evidence_en", "estimated_by", "model", "rests_on"]
    for row in table:
        check_answer(int(row["estimate"]), int(row["low"]), int(row["high"]), row["period"], edges, labels,
                     row["unsure"] == "yes")
        assert row["evidence_en"] == f"the picture: {row['low']}–{row['high']}"
        assert row["evidence_es"] == f"la imagen: {row['low']}–{row['high']}"
        assert row["catalogued_date"] == "s.f." and row["model"] == key and row["rests_on"] == "photograph"
    assert table[0]["holder"] == "Estudio Ruiz"

    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "Estimated 0 photograph(s) now, 3 already estimated" in again.stdout
    assert estimates(undated_db) == rows


def test_a_new_model_estimates_again_beside_the_old_one(app_run_dir, undated_db, tmp_path):
    CliRunner().invoke(main, ["date-undated", "--model", str(app_run_dir), "--db", undated_db, "--quiet"])
    retrained = tmp_path / "retrained"
    shutil.copytree(app_run_dir, retrained)
    weights = load_file(str(retrained / "model.safetensors"))
    weights["classifier.bias"] = weights["classifier.bias"] + 1.0
    save_file(weights, str(retrained / "model.safetensors"))
    result = CliRunner().invoke(main, ["date-undated", "--model", str(retrained), "--db", undated_db, "--quiet"])
    assert "Estimated 3 photograph(s) now, 0 already" in result.stdout
    keys = {r[1] for r in estimates(undated_db)}
    assert keys == {model_key(app_run_dir), model_key(retrained)}


def test_records_page_filters_the_undated_and_shows_their_evidence(app_run_dir, undated_db):
    from fastapi.testclient import TestClient

    from modeling.app.server import AppConfig, create_app

    CliRunner().invoke(main, ["date-undated", "--model", str(app_run_dir), "--db", undated_db, "--quiet"])
    with TestClient(create_app(AppConfig(run_dir=app_run_dir, db_url=undated_db, dating_progress_bar=False))) as client:
        page = client.get("/records?undated=1&lang=en").text
    assert page.count('data-source="picture">the picture: ') == 2 and "LRM-000103" in page


def test_missing_archive_is_one_line(app_run_dir, tmp_path):
    result = CliRunner().invoke(main, ["date-undated", "--model", str(app_run_dir), "--db",
                                       f"sqlite:///{tmp_path / 'none.db'}"])
    assert result.exit_code == 1 and result.output.startswith("Error: No archive at ")
