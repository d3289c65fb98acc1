"""The collect flow on a region's inbox after the first round: a МОУО resubmits, a file lands
in the wrong МОУО's folder, a file is broken, participants come on two sheets, a file is named
like a formula. Nothing is lost, nothing runs in a report, and the batch goes on."""

from __future__ import annotations

import email
import os
import time
from email.policy import default as default_policy
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import create_engine, select

from flows.campaign import campaign
from flows.collect import collect
from flows.reconcile import reconcile
from tasks.adapters.models import Mouo, Submission

pytestmark = pytest.mark.flows


def _submissions(out: Path) -> list[tuple[str, str, str, int]]:
    engine = create_engine(f"sqlite:///{out / 'rcoi.sqlite'}")
    with engine.connect() as connection:
        rows = connection.execute(
            select(Mouo.code, Submission.file_name, Submission.status, Submission.rows_read)
            .join(Mouo, Submission.mouo_id == Mouo.id)
            .order_by(Submission.id)
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _later(path: Path) -> None:
    """Make `path` the newest file of its folder, as a later upload is."""
    stamp = time.time() + 60
    os.utime(path, (stamp, stamp))


def test_resubmission_wrong_folder_and_broken_file(tmp_path: Path) -> None:
    campaign(participants=1500, seed=17, out=str(tmp_path))
    inbox = tmp_path / "region" / "submissions"
    csv_folders = sorted(p.parent for p in inbox.glob("*/*.csv"))
    xlsx_files = sorted(inbox.glob("*/*.xlsx"))
    assert csv_folders
    assert xlsx_files
    folder = csv_folders[0]
    mouo = folder.name
    [original] = list(folder.iterdir())
    lines = original.read_bytes().splitlines(keepends=True)
    before = [s for s in _submissions(tmp_path) if s[0] == mouo]
    assert [s[2] for s in before] == ["accepted"]

    # 1. the МОУО sends a corrected file: ten people fewer
    corrected = folder / "Участники_исправленный.csv"
    corrected.write_bytes(b"".join(lines[:-10]))
    _later(corrected)
    summary = collect(inbox=str(inbox), out=str(tmp_path), session="2017-12-06")
    [verdict] = [v for v in summary["verdicts"] if v["file_name"] == corrected.name]
    assert verdict["status"] == "accepted"
    assert verdict["rows_read"] == before[0][3] - 10
    mine = [s for s in _submissions(tmp_path) if s[0] == mouo]
    assert [(s[1], s[2]) for s in mine] == [
        (original.name, "superseded"),  # the history is kept
        (corrected.name, "accepted"),
    ]
    reconciled = reconcile(out=str(tmp_path), session="2017-12-06")
    assert reconciled["loaded"]["withdrawn"]["inserted"] == 10

    # 2. another МОУО's file dropped into this folder, and 3. a truncated workbook
    stranger = xlsx_files[0] if xlsx_files[0].parent != folder else xlsx_files[-1]
    assert stranger.parent != folder
    misplaced = folder / ("чужой_" + stranger.name)
    misplaced.write_bytes(stranger.read_bytes())
    broken = folder / "обрезанный.xlsx"
    broken.write_bytes(stranger.read_bytes()[:4000])
    for path in (misplaced, broken):
        _later(path)
    summary = collect(inbox=str(inbox), out=str(tmp_path), session="2017-12-06")
    verdicts = {v["file_name"]: v for v in summary["verdicts"]}
    assert verdicts[misplaced.name]["status"] == "rejected"
    assert f"МОУО {stranger.parent.name}" in verdicts[misplaced.name]["reason"]
    assert "папку другого МОУО" in verdicts[misplaced.name]["reason"]
    assert verdicts[broken.name]["status"] == "rejected"
    assert verdicts[broken.name]["reason"]
    # the rejected files replace nothing: the corrected submission is still the current one
    mine = [s for s in _submissions(tmp_path) if s[0] == mouo]
    assert [s[2] for s in mine if s[1] == corrected.name] == ["accepted"]
    assert {s[1]: s[2] for s in mine}[misplaced.name] == "rejected"
    assert summary["mouos_submitted"] == sorted({s[0] for s in _submissions(tmp_path)})
    # every received file is kept, whatever became of it
    kept = {p.name.split("-", 1)[1] for p in (tmp_path / "collect" / "received" / mouo).iterdir()}
    assert {original.name, corrected.name, misplaced.name, broken.name} <= kept
    # and the МОУО was told about each file
    assert len(list((tmp_path / "outbox").glob(f"collect-*{mouo}*.eml"))) >= 4

    # 4. participants on two sheets, and a file named like a formula (issue 16, items 6 and 7)
    book = openpyxl.load_workbook(stranger)
    book.active.title = "Школа 1"
    book.copy_worksheet(book.active).title = "Школа 2"
    two_sheets = folder / "два_листа.xlsx"
    book.save(two_sheets)
    formula = folder / '=HYPERLINK("http:x","y").csv'
    formula.write_bytes(b"".join(lines[:-20]))
    for path in (two_sheets, formula):
        _later(path)
    summary = collect(inbox=str(inbox), out=str(tmp_path), session="2017-12-06")
    verdicts = {v["file_name"]: v for v in summary["verdicts"]}
    assert verdicts[two_sheets.name]["status"] == "rejected"
    assert "«Школа 1», «Школа 2»" in verdicts[two_sheets.name]["reason"]
    assert verdicts[formula.name]["status"] == "accepted"
    stored = {s[1]: s[2] for s in _submissions(tmp_path)}
    assert stored[formula.name] == "accepted"
    [report] = [
        p
        for p in (tmp_path / "collect" / "reports" / mouo).iterdir()
        if openpyxl.load_workbook(p)["Итог"]["B2"].value == formula.name
    ]
    assert openpyxl.load_workbook(report)["Итог"]["B2"].data_type == "s"  # text, not a formula
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=default_policy)
        for p in (tmp_path / "outbox").glob(f"collect-*{mouo}*.eml")
    ]
    [refusal] = [m for m in mails if two_sheets.name in m.get_body().get_content()]
    assert "на нескольких листах: «Школа 1», «Школа 2»" in refusal.get_body().get_content()
