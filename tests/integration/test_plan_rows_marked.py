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
    # «март, май, январь 2024 года»: in April the January period is the earliest missed; then
    # March by its number (periods counted from 1)
    base = ("plan", "done", "s1_5", "--plan", "megion-2024-roadmap", "--out", str(tmp_path))
    who = ("--actor", "petrov", "--note", "анализ", "--party", "mouo")
    assert rcoi(*base, *who, "--now", "2024-04-10T09:00+05:00").returncode == 0
    assert rcoi(*base, *who, "--occurrence", "2", "--now", "2024-04-10T09:00+05:00").returncode == 0
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


def test_a_row_the_corrected_plan_no_longer_has_leaves_the_board(tmp_path: Path) -> None:
    text = (PLANS_DIR / "tomsk-2024-interview.yaml").read_text(encoding="utf-8")
    path = tmp_path / "tomsk.yaml"
    path.write_text(text, encoding="utf-8")
    _load(tmp_path, str(path))
    # the coordinator deletes a row and moves the exam day by a day
    start = text.index("  - id: copy_criteria")
    end = text.index("  - id: open_kim")
    corrected = (text[:start] + text[end:]).replace(
        "exam_date: 2024-02-14", "exam_date: 2024-02-15"
    )
    path.write_text(corrected, encoding="utf-8")
    assert "(новых 0)" in _load(tmp_path, str(path))
    with open_unit_of_work(Settings(out_dir=tmp_path)) as uow:
        scope = load_scope(uow.session, "tomsk-2024-interview")
        assert "copy_criteria" not in {row.stage_key for row in scope.rows}
        retired = uow.session.scalars(
            select(PlanStage.retired).where(PlanStage.stage_key == "copy_criteria")
        ).one()
        assert retired is True
        day = uow.session.scalars(select(ExamSession.exam_date)).one()
        assert day.isoformat() == "2024-02-15"
    # and back: the same row is active again, under its old id
    path.write_text(text, encoding="utf-8")
    _load(tmp_path, str(path))
    with open_unit_of_work(Settings(out_dir=tmp_path)) as uow:
        scope = load_scope(uow.session, "tomsk-2024-interview")
        assert "copy_criteria" in {row.stage_key for row in scope.rows}


def test_a_road_map_row_is_found_in_its_year_without_naming_the_session(tmp_path: Path) -> None:
    _load(tmp_path, "kuzbass-2024-roadmap")
    done = rcoi(
        "plan", "done", "an_1", "--plan", "kuzbass-2024-roadmap", "--party", "rcoi",
        "--actor", "ivanova", "--note", "сборник", "--out", str(tmp_path),
        "--now", "2023-09-20T10:00+07:00",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    both = rcoi(
        "plan", "done", "an_1", "--plan", "kuzbass-2024-roadmap",
        "--actor", "ivanova", "--note", "сборник", "--out", str(tmp_path),
    )  # fmt: skip
    assert both.returncode == 1
    assert "--party" in both.stderr


def test_a_mark_without_a_period_takes_the_earliest_missed_one(tmp_path: Path) -> None:
    _load(tmp_path, "megion-2024-roadmap")
    base = ("plan", "done", "s1_5", "--plan", "megion-2024-roadmap", "--out", str(tmp_path))
    who = ("--actor", "petrov", "--note", "анализ", "--party", "mouo")
    # in June every period of «март, май, январь» has begun: January first, then March, then May
    for _ in range(4):
        assert rcoi(*base, *who, "--now", "2024-06-10T09:00+05:00").returncode == 0
    with open_unit_of_work(Settings(out_dir=tmp_path)) as uow:
        marks = sorted(uow.session.scalars(select(RowMark.occurrence)))
    assert marks == [0, 1, 2]


def test_without_a_directory_the_watchdog_chases_what_can_be_completed(tmp_path: Path) -> None:
    from tasks.adapters.board import checks_of

    _load(tmp_path, "kemerovo-2017-essay")
    after_due = datetime(2017, 11, 23, 1, tzinfo=ZoneInfo("Asia/Novokuznetsk"))
    with open_unit_of_work(Settings(out_dir=tmp_path)) as uow:
        scope = load_scope(uow.session, "kemerovo-2017-essay", ["2017-12-06"])
        checks = {
            (c.stage_key, c.party) for c in checks_of(board_cells(uow.session, scope, after_due))
        }
    assert ("load_registry", "rcoi") in checks  # the RCOI's own stage: always chased
    assert ("applications", "school") in checks  # people's work of all schools: the coordinator
    # collect completes per МОУО: «МОУО (все)» could never complete it — shown, not chased
    assert ("submit_participants", "mouo") not in checks
