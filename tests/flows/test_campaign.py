"""The campaign flow end to end on an ephemeral Prefect server."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import create_engine, func, select

from flows.campaign import campaign
from tasks.adapters.models import PlanStage, Submission, SubmissionRow
from tasks.domain.summary import STAGE_TITLES_RU

pytestmark = pytest.mark.flows


def _count(out: Path, model: type) -> int:
    engine = create_engine(f"sqlite:///{out / 'rcoi.sqlite'}")
    with engine.connect() as connection:
        value = connection.execute(select(func.count()).select_from(model)).scalar_one()
    engine.dispose()
    return int(value)


def test_the_campaign_writes_a_summary_entry_for_every_stage(tmp_path: Path) -> None:
    document = campaign(participants=400, seed=5, out=str(tmp_path))
    written = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert written == document
    stages = {entry["stage"]: entry for entry in written["stages"]}
    assert list(stages) == list(STAGE_TITLES_RU)
    assert stages["generate_region"]["status"] == "completed"
    assert stages["generate_region"]["counts"]["participants"] == 400
    assert stages["load_region"]["counts"]["schools"]["inserted"] > 0
    assert stages["plan"]["counts"]["plan_stages"]["offered"] == 36
    assert stages["collect"]["status"] == "completed"
    assert stages["collect"]["counts"]["rows_read"] == 400
    assert stages["collect"]["counts"]["rows_rejected"] == 0
    assert stages["reconcile"]["status"] == "not_built"
    assert written["campaign"]["session"] == "2017-12-06"
    assert "Сводка кампании" in (tmp_path / "summary.md").read_text(encoding="utf-8")


def test_running_the_campaign_twice_duplicates_nothing(tmp_path: Path) -> None:
    campaign(participants=300, seed=9, out=str(tmp_path))
    second = campaign(participants=300, seed=9, out=str(tmp_path))
    stages = {entry["stage"]: entry for entry in second["stages"]}
    assert all(c["inserted"] == 0 for c in stages["load_region"]["counts"].values())
    assert stages["plan"]["counts"]["plan_stages"]["inserted"] == 0
    assert stages["collect"]["counts"]["files_skipped"] == stages["collect"]["counts"]["files"]
    assert _count(tmp_path, Submission) == stages["collect"]["counts"]["files"]
    assert _count(tmp_path, SubmissionRow) == 300
    assert _count(tmp_path, PlanStage) == 36
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == stages["collect"]["counts"]["files"]


def test_collect_rejects_exactly_the_injected_errors(tmp_path: Path) -> None:
    document = campaign(
        participants=1500, seed=11, out=str(tmp_path), error_rate=0.04, silent_mouos=1
    )
    collected = {e["stage"]: e for e in document["stages"]}["collect"]["counts"]
    truth = pl.read_csv(tmp_path / "region" / "injected_errors.csv")
    assert collected["rows_rejected"] == truth.height > 0
    expected = {
        "invalid_snils": "snils_valid",
        "latin_lookalike": "surname_cyrillic",
        "future_birth_date": "birth_date_plausible",
        "absurd_birth_date": "birth_date_plausible",
        "missing_name": "name_present",
        "bad_passport": "document_valid",
        "exposition_not_eligible": "exposition_eligible",
        "foreign_school_code": "school_of_this_mouo",
        "unknown_category": "category_known",
        "duplicate_row": "not_a_repeat",
    }
    for error in truth["error"].unique():
        assert expected[error] in collected["rejected_by_rule"]


def test_the_campaign_runs_another_plan_and_session(tmp_path: Path) -> None:
    document = campaign(participants=200, seed=1, out=str(tmp_path), plan="tomsk-2024-interview")
    assert document["campaign"]["region"] == "70"
    assert document["campaign"]["session"] == "2024-02-14"


def test_the_summary_holds_no_personal_data(tmp_path: Path) -> None:
    campaign(participants=200, seed=2, out=str(tmp_path))
    truth = (tmp_path / "region" / "participants.csv").read_text(encoding="utf-8").splitlines()
    snils = [line.split(",")[1] for line in truth[1:]]
    text = (tmp_path / "summary.json").read_text(encoding="utf-8") + (
        tmp_path / "summary.md"
    ).read_text(encoding="utf-8")
    assert not [value for value in snils if value in text]
