"""train --head-only --cv with catalogue text: RUN_DIR/fusion/, ablation.csv, the printed ablation, FusedDater."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import cli
from modeling.answer import RecordFacts, period_of
from modeling.evidence.ablation import ABLATION_COLUMNS, read_ablation
from modeling.evidence.dater import FusedDater

torch.set_num_threads(1)
ERA_WORDS = {1860: "daguerrotipo carruaje", 1900: "tranvía corsé", 1940: "racionamiento vespa", 1980: "movida walkman"}


def _catalogue(row: dict, k: int) -> dict:
    """Holders active over 40-year spans, era words in most titles, the year stated in one title of four."""
    year = int(row["year"])
    era = max(e for e in ERA_WORDS if e <= year)
    title = f"Fiesta, {year}" if k % 4 == 0 else (f"{ERA_WORDS[era]} en la plaza" if k % 4 != 3 else "Vista")
    return {"title": title, "description": "", "holder": f"Estudio {era}" if k % 3 else "", "place": ""}


def _train(args: list[str]):
    return CliRunner().invoke(cli.main, ["train", "--arch", "test_efficientnet", "--no-pretrained", "--img-size", "32",
                                         "--workers", "0", "--head-only", *args])


@pytest.fixture(scope="module")
def evidence_run(tiny_export, tmp_path_factory) -> tuple[Path, Path, object]:
    data = tmp_path_factory.mktemp("evidence") / "export"
    shutil.copytree(tiny_export, data)
    with (data / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    columns = list(rows[0])
    with (data / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({**row, **_catalogue(row, k)} for k, row in enumerate(rows))
    run = data.parent / "run"
    return data, run, _train(["--data", str(data), "--out", str(run), "--cv", "3", "--task", "regress", "--loss",
                              "ridge"])


def test_train_writes_the_fusion_and_prints_the_ablation(evidence_run):
    data, run, result = evidence_run
    assert result.exit_code == 0, result.output
    assert (run / "fusion" / "fusion.json").is_file() and (run / "fusion" / "text.npz").is_file()
    assert (run / "fusion" / "holder.json").is_file()
    assert "evidence (3-fold CV, pooled over 71 images; 80% intervals)" in result.output
    ablation = read_ablation(run)
    assert [row["source"] for row in ablation] == ["picture", "text", "explicit_date", "holder",
                                                   "fusion: picture+text+explicit_date+holder",
                                                   "baseline: median year", "baseline: majority bin"]
    assert all(set(row) == set(ABLATION_COLUMNS) for row in ablation)
    by = {row["source"]: row for row in ablation}
    fused = by["fusion: picture+text+explicit_date+holder"]
    assert fused["n"] == 71 and by["explicit_date"]["n"] == 18 and by["holder"]["n"] == 47
    assert fused["mae"] < min(by[s]["mae"] for s in ("picture", "text", "explicit_date", "holder"))
    assert 0.6 <= fused["coverage"] <= 0.95  # 71 records: loose around 0.8
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["evidence"]["sources"] == ["picture", "text", "explicit_date", "holder"]


def test_the_fused_dater_answers_from_what_each_record_has(evidence_run):
    _, run, _ = evidence_run
    dater = FusedDater.from_run_dir(run)
    assert dater.img_size == 32
    picture = Image.new("RGB", (48, 40), (120, 100, 80))
    answers = dater.date([RecordFacts(title="Fiesta, 1932", holder="Estudio 1900"), RecordFacts(),
                          RecordFacts(holder="Estudio 1940"), RecordFacts()], [None, picture, None, None])
    stated, upload, holder_only, nothing = answers
    assert stated.sources[0] == "explicit_date" and set(stated.sources) == {"explicit_date", "text", "holder"}
    assert abs(stated.year - 1932) <= 3 and stated.low <= 1932 <= stated.high
    assert stated.evidence[0].en == 'the title says "1932"'
    assert stated.evidence[0].es == "el título dice «1932»"
    holder_line = next(e for e in stated.evidence if e.source == "holder")
    assert holder_line.en.startswith("holder Estudio 1900: ") and "dated photographs, 19" in holder_line.en
    assert upload.sources == ("picture",) and upload.evidence[0].en.startswith("the picture: ")
    # resting on the picture alone, its line and the answer give one interval, never two
    assert upload.evidence[0].en == f"the picture: {upload.low}-{upload.high}"
    assert holder_only.sources == ("holder",) and 1925 <= holder_only.year <= 1995
    assert nothing.sources == () and nothing.evidence == ()
    for answer in answers:  # one story: the period shown holds the year shown
        assert answer.low <= answer.year <= answer.high
        assert answer.period == period_of(answer.year, dater.edges, dater.labels)
        assert json.loads(json.dumps(answer.to_dict()))["sources"] == list(answer.sources)
    with pytest.raises(ValueError, match="2 facts for 1 images"):
        dater.date([RecordFacts(), RecordFacts()], [None])
    assert [a.sources for a in dater.date([], [None, picture])] == [(), ("picture",)]


def test_describe_says_what_the_fusion_rests_on(evidence_run):
    _, run, _ = evidence_run
    described = FusedDater.from_run_dir(run).describe()
    assert described["sources"] == ["picture", "text", "explicit_date", "holder"] and described["n"] == 71
    assert described["unsure_width"] == 40 and 0.0 < described["coverage"] <= 1.0 and described["mean_width"] > 0
    assert {row["source"] for row in described["ablation"]} >= {"baseline: median year", "baseline: majority bin"}
    assert described["labels"] and described["img_size"] == 32  # the picture model's own description too


def test_compare_prints_the_ablation_and_evidence_picture_removes_the_fusion(evidence_run, tmp_path):
    data, run, _ = evidence_run
    compared = CliRunner().invoke(cli.main, ["compare", str(run)])
    assert compared.exit_code == 0, compared.output
    assert "run: evidence ablation (CV, 80% intervals)" in compared.output and "baseline: majority bin" in compared.output
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    again = _train(["--data", str(data), "--out", str(copy), "--cv", "3", "--evidence", "picture"])
    assert again.exit_code == 0, again.output
    assert not (copy / "fusion").exists() and not (copy / "ablation.csv").exists()
    assert "evidence (" not in again.output
    assert "evidence" not in json.loads((copy / "metrics.json").read_text())


def test_out_of_fold_sources_never_see_the_record_they_estimate():
    """A holder with one record has nothing to say out-of-fold (fitted on every record, it would echo the year);
    the same text seen in another fold does speak."""
    from modeling.evidence.fit import oof_estimates
    from modeling.training.data import ExportRow

    rows = [ExportRow(file=f"{k}.jpg", year=1900 + 3 * k, bin_index=0, split="train", title="Retrato de estudio",
                      holder=f"Solo {k}") for k in range(30)]
    folds = np.arange(30) % 3
    estimates = oof_estimates(rows, folds, picture=None)
    assert "holder" not in estimates  # never present out-of-fold
    assert estimates["text"].present.all()


def test_every_output_loads_the_fusion_when_the_run_has_one(evidence_run, app_archive_db, tmp_path):
    """load_dater (predict, the app, date-undated) answers with the fusion: an undated record whose title states
    its year is dated from that title, and the suggestion says so."""
    from sqlalchemy import select

    from db.models import Image, Record
    from db.session import make_engine, session_scope
    from modeling.inference.dater import load_dater

    _, run, _ = evidence_run
    assert isinstance(load_dater(run), FusedDater)
    engine = make_engine(app_archive_db)
    with session_scope(engine) as session:
        first = session.scalar(select(Image.path).where(Image.status == "ok").order_by(Image.id))
        session.add(Record(source="replica", source_id="LRM-U1", title="Fiesta, 1932", date_raw="s.f.",
                           images=[Image(url="http://127.0.0.1/u1.jpg", path=first, status="ok")]))
    engine.dispose()
    out = tmp_path / "suggestions.csv"
    result = CliRunner().invoke(cli.main, ["date-undated", "--model", str(run), "--db", app_archive_db,
                                           "--csv", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as handle:
        row = next(r for r in csv.DictReader(handle) if r["source_id"] == "LRM-U1")
    assert 'the title says "1932"' in row["evidence_en"] and "«1932»" in row["evidence_es"]
    assert int(row["low"]) <= int(row["estimate"]) <= int(row["high"]) and int(row["low"]) <= 1932 <= int(row["high"])


def test_fused_answers_list_their_top_periods_led_by_the_answers_own(evidence_run):
    """A FusedDater answer fills `top` from its calibrated interval, so outputs that show top periods show them
    for fused runs too, and the first is the period that holds the answer's year."""
    from answer_checks import check_answer, check_top

    _, run, _ = evidence_run
    dater = FusedDater.from_run_dir(run)
    facts = [RecordFacts(title="Fiesta, 1932"), RecordFacts(title="tranvía corsé en la plaza"), RecordFacts()]
    for said in dater.date(facts, [None, None, Image.new("RGB", (40, 30), (90, 80, 70))]):
        check_answer(said.year, said.low, said.high, said.period, dater.edges, dater.labels, said.unsure)
        check_top(said.top, said.period, dater.labels, leads=True)
        check_top(said.to_dict()["top"], said.period, dater.labels, leads=True)


def test_undated_records_without_a_photograph_are_estimated_from_their_catalogue(evidence_run, app_archive_db,
                                                                                 tmp_path):
    """date-undated with a fused run: a record with no stored photograph whose title states 1932 gets an estimate
    from its catalogue alone, shown in /records and in the CSV as such; one with nothing to read gets none."""
    from answer_checks import check_answer
    from sqlalchemy import select

    from db.models import ImageEstimate, Record
    from db.session import make_engine, session_scope
    from modeling.app.dating import model_key
    from modeling.app.records import RecordsQuery, list_records

    _, run, _ = evidence_run
    engine = make_engine(app_archive_db)
    with session_scope(engine) as session:
        session.add(Record(source="replica", source_id="LRM-T1", title="Fiesta, 1932", date_raw="s.f."))
        session.add(Record(source="replica", source_id="LRM-T2", title=None, date_raw="s.f."))
    out = tmp_path / "suggestions.csv"
    args = ["date-undated", "--model", str(run), "--db", app_archive_db, "--csv", str(out), "--quiet"]
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 0, result.output
    assert re.search(r"Estimated \d+ record\(s\) without a photograph from their catalogue alone", result.output)
    with out.open(newline="", encoding="utf-8") as handle:
        rows = {r["source_id"]: r for r in csv.DictReader(handle)}
    assert "LRM-T2" not in rows and rows["LRM-T1"]["rests_on"] == "catalogue only"
    row = rows["LRM-T1"]
    assert int(row["low"]) <= 1932 <= int(row["high"]) and 'the title says "1932"' in row["evidence_en"]
    page = list_records(engine, model_key(run), RecordsQuery(undated=True, per_page=100))
    shown = {r.source_id: r.estimate for r in page.rows}
    assert shown["LRM-T1"].catalogue_only and shown["LRM-T1"].problem is None
    dater = FusedDater.from_run_dir(run)
    check_answer(shown["LRM-T1"].year, shown["LRM-T1"].low, shown["LRM-T1"].high, shown["LRM-T1"].period,
                 dater.edges, dater.labels, shown["LRM-T1"].unsure)
    assert shown["LRM-T2"].problem == "no_image" and not shown["LRM-T2"].catalogue_only
    again = CliRunner().invoke(cli.main, args)  # resumable: nothing is estimated twice
    assert again.exit_code == 0 and "from their catalogue alone" not in again.output
    with session_scope(engine) as session:
        statuses = session.execute(select(Record.source_id, ImageEstimate.status, ImageEstimate.image_id)
                                   .join(ImageEstimate, ImageEstimate.record_id == Record.id)
                                   .where(Record.source_id.in_(["LRM-T1", "LRM-T2"])).order_by(Record.source_id)).all()
    assert statuses == [("LRM-T1", "ok", None), ("LRM-T2", "no_evidence", None)]
    engine.dispose()


def test_cross_validation_estimates_rest_on_the_fusion_when_the_run_has_one(evidence_run):
    """RUN_DIR/fusion/oof.csv holds the fusion's out-of-fold answer for every exported image with its sources, and
    the web app stores those (not the picture's oof.csv) as the estimates of a model that never saw the photograph."""
    from modeling.app.dating import out_of_fold_for, out_of_fold_rows
    from modeling.evidence.fit import read_fused_oof
    from modeling.features.run import read_oof

    _, run, _ = evidence_run
    fused, picture = read_fused_oof(run), read_oof(run)
    assert [row["image_id"] for row in fused] and sorted(r["image_id"] for r in fused) == sorted(
        r["image_id"] for r in picture)
    assert any("text" in row["sources"].split(",") or "explicit_date" in row["sources"].split(",") for row in fused)
    url = "sqlite:////tmp/archive.db"
    served = out_of_fold_for(run, {"validated_on": {"database": url}}, url)
    assert served == fused
    dater = FusedDater.from_run_dir(run)
    rows = out_of_fold_rows(served, dater.edges, dater.labels)
    by_catalogue = [row for row in rows if row["sources"] != "picture"]
    assert by_catalogue and all(row["kind"] == "out_of_fold" for row in rows)
    assert all("the picture and the catalogue" in row["evidence"] for row in by_catalogue)
