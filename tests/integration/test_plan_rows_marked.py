"""Plans in the regional database for the board: `rcoi plan load` (again: nothing doubled; a
corrected plan updates its rows in place), `rcoi plan done` / `reopen` as a coordinator runs
them (audit rows, twice changes nothing, automated rows refused), periods of a road-map row."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from config import PLANS_DIR
from config.settings import Settings
from tasks.adapters.board import board_cells, load_scope
from tasks.adapters.models import AuditLog, ExamSession, PlanStage, RowMark
from tasks.adapters.unit_of_work import open_unit_of_work
from tasks.domain.board import RowStatus
from tests.cli_support import rcoi

pytestmark = pytest.mark.integration

MEGION = ZoneInfo("Asia/Yekaterinburg")


def _load(out: Path, plan: str) -> str:
    result = rcoi("plan", "load", "--plan", plan, "--out", str(out))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_loading_a_plan_twice_doubles_nothing_and_a_road_map_has_its_year(tmp_path: Path) -> None:
    first = _load(tmp_path, "kuzbass-2024-roadmap")
    assert "сроков 4, строк 464 (новых 464)" in first
    assert "(новых 0)" in _load(tmp_path, "kuzbass-2024-roadmap")
    with open_unit_of_work(Settings(out_dir=tmp_path)) as uow:
        sessions = dict(
            uow.session.execute(select(ExamSession.code, ExamSession.ordinal)).tuples().all()
        )
        assert sessions == {"2024-05-28": 1, "2024-05-31": 2, "2024-06-10": 3, "2023-24": 0}
        assert uow.session.scalar(select(func.count()).select_from(PlanStage)) == 464
        months = uow.session.scalars(
            select(PlanStage).where(PlanStage.stage_key == "org_11_2")
        ).one()
        assert months.kind == "months"
        assert len(months.windows) == 3
        assert months.term
        assert months.section == "Организационное сопровождение ГИА-9 и ГИА-11"


def test_a_corrected_plan_updates_its_rows_in_place(tmp_path: Path) -> None:
    text = (PLANS_DIR / "megion-2024-roadmap.yaml").read_text(encoding="utf-8")
    path = tmp_path / "megion.yaml"
    path.write_text(text, encoding="utf-8")
    _load(tmp_path, str(path))
    with open_unit_of_work(Settings(out_dir=tmp_path)) as uow:
        before = uow.session.scalars(select(PlanStage).where(PlanStage.stage_key == "s1_6")).one()
        stage_id, external = before.id, before.external
    assert external  # «по отдельному графику»: no dates yet
    # the coordinator enters the separate schedule's dates
    old = '{kind: external, reference: "по отдельному графику"}'
    assert old in text
    resolved = (
        "{kind: external, reference: по отдельному графику, resolved: {kind: window, "
        "start: {date: 2024-03-01}, end: {date: 2024-03-31}}}"
    )
    path.write_text(text.replace(old, resolved, 1), encoding="utf-8")
    assert "(новых 0)" in _load(tmp_path, str(path))
    with open_unit_of_work(Settings(out_dir=tmp_path)) as uow:
        after = uow.session.scalars(select(PlanStage).where(PlanStage.stage_key == "s1_6")).one()
        assert after.id == stage_id
        assert after.external is None
        assert after.due_at == datetime(2024, 4, 1, tzinfo=MEGION)


def _count(out: Path, model: type, **where: object) -> int:
    with open_unit_of_work(Settings(out_dir=out)) as uow:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return int(uow.session.scalar(query) or 0)


def test_marking_a_row_done_twice_changes_nothing_and_reopening_needs_a_reason(
    tmp_path: Path,
) -> None:
    _load(tmp_path, "megion-2024-roadmap")
    mark = ("plan", "done", "1.3", "--plan", "megion-2024-roadmap", "--out", str(tmp_path))
    who = ("--actor", "ivanova", "--note", "сборник использован", "--party", "mouo")
    at = ("--now", "2024-09-15T10:00+05:00")
    done = rcoi(*mark, *who, *at)
    assert done.returncode == 0, done.stderr
    assert "отмечена выполненной (МОУО (все))" in done.stdout
    again = rcoi(*mark, *who, *at)
    assert again.returncode == 0
    assert "ничего не изменено" in again.stdout
    assert _count(tmp_path, RowMark) == 1
    assert _count(tmp_path, AuditLog, action="plan_row.done") == 1
    # a row of two performers needs to be told which one
    either = rcoi(*mark, "--actor", "ivanova", "--note", "x")
    assert either.returncode == 1
    assert "несколько исполнителей" in either.stderr
    # reopening: a reason is required, the mark goes, the audit keeps both
    reopen = ("plan", "reopen", "1.3", "--plan", "megion-2024-roadmap", "--out", str(tmp_path))
    blank = rcoi(*reopen, "--actor", "ivanova", "--reason", " ", "--party", "mouo")
    assert blank.returncode == 2
    opened = rcoi(*reopen, "--actor", "ivanova", "--reason", "сборник не тот", "--party", "mouo")
    assert opened.returncode == 0, opened.stderr
    assert _count(tmp_path, RowMark) == 0
    [audit] = _audit(tmp_path, "plan_row.reopened")
    assert audit.new == {
        "party": "mouo",
        "occurrence": 0,
        "state": "open",
        "note": "сборник не тот",
    }


def _audit(out: Path, action: str) -> list[AuditLog]:
    with open_unit_of_work(Settings(out_dir=out)) as uow:
        rows = list(uow.session.scalars(select(AuditLog).where(AuditLog.action == action)))
        uow.session.expunge_all()
        return rows


def test_a_row_of_several_months_is_marked_period_by_period(tmp_path: Path) -> None:
    _load(tmp_path, "megion-2024-roadmap")
    # «март, май, январь 2024 года»: in April the March period is the latest begun
    base = ("plan", "done", "s1_5", "--plan", "megion-2024-roadmap", "--out", str(tmp_path))
    who = ("--actor", "petrov", "--note", "анализ", "--party", "mouo")
    assert rcoi(*base, *who, "--now", "2024-04-10T09:00+05:00").returncode == 0
    assert rcoi(*base, *who, "--occurrence", "1", "--now", "2024-04-10T09:00+05:00").returncode == 0
    with open_unit_of_work(Settings(out_dir=tmp_path)) as uow:
        scope = load_scope(uow.session, "megion-2024-roadmap")
        cells = board_cells(uow.session, scope, datetime(2024, 4, 10, 9, tzinfo=MEGION))
    mine = sorted(
        (c.occurrence, c.state)
        for c in cells
        if c.row.stage_key == "s1_5" and c.performer.party == "mouo"
    )
    assert mine == [(0, RowStatus.DONE), (1, RowStatus.DONE), (2, RowStatus.NOT_STARTED)]
    late = sorted(
        (c.occurrence, c.state)
        for c in cells
        if c.row.stage_key == "s1_5" and c.performer.party == "school"
    )
    assert late == [(0, RowStatus.LATE), (1, RowStatus.LATE), (2, RowStatus.NOT_STARTED)]


def test_an_automated_row_is_marked_by_its_stage_not_by_hand(tmp_path: Path) -> None:
    _load(tmp_path, "kemerovo-2017-essay")
    refused = rcoi(
        "plan", "done", "submit_participants", "--plan", "kemerovo-2017-essay",
        "--actor", "x", "--note", "y", "--out", str(tmp_path),
    )  # fmt: skip
    assert refused.returncode == 1
    assert "отметку ставит сам этап" in refused.stderr
    unknown = rcoi(
        "plan", "done", "9.9", "--plan", "kemerovo-2017-essay",
        "--actor", "x", "--note", "y", "--out", str(tmp_path),
    )  # fmt: skip
    assert unknown.returncode == 1
    assert "нет строки «9.9»" in unknown.stderr
    assert _count(tmp_path, RowMark) == 0
