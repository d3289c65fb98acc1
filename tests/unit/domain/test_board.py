"""The board's states per row, performer and occurrence; the watchdog's chain ОО → МОУО →
coordinator → authority; several notices to one recipient as one letter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tasks.domain.board import (
    BoardRow,
    Directory,
    Performer,
    RowStatus,
    cells_of,
    overall,
    performers_of,
)
from tasks.domain.watchdog import (
    Check,
    NoticeKind,
    Policy,
    digest_key,
    digest_mail,
    evaluate,
)

ZONE = ZoneInfo("Asia/Novokuznetsk")
START = datetime(2017, 11, 1, tzinfo=ZONE)
DUE = datetime(2017, 11, 23, tzinfo=ZONE)
DIRECTORY = Directory(
    mouos=(Performer("42-01", "mouo"), Performer("42-02", "mouo")),
    schools=(
        Performer("4201001", "school", "42-01"),
        Performer("4201002", "school", "42-01"),
        Performer("4202001", "school", "42-02"),
    ),
)


def row(
    key: str = "commissions",
    *,
    responsible: tuple[str, ...] = ("school",),
    automated: str | None = None,
    windows: tuple[tuple[datetime | None, datetime | None], ...] = ((START, DUE),),
    after: tuple[str, ...] = (),
    external: str | None = None,
    stage_id: int = 1,
) -> BoardRow:
    return BoardRow(
        plan_stage_id=stage_id,
        session_code="2017-12-06",
        stage_key=key,
        row=None,
        section=None,
        title=f"Строка {key}",
        term=None,
        automated=automated,
        responsible=responsible,
        performers=("ОО",),
        zone=str(ZONE),
        windows=windows,
        after=after,
        external=external,
    )


def states(cells: list, party: str | None = None) -> list[RowStatus]:
    return [c.state for c in cells if party is None or c.performer.party == party]


# --- performers ---------------------------------------------------------------------------------


def test_a_school_row_has_every_school_and_a_stage_row_only_the_stages_kind() -> None:
    assert [p.party for p in performers_of(row(), DIRECTORY)] == ["4201001", "4201002", "4202001"]
    collect = row(automated="collect", responsible=("mouo", "school"))
    assert [p.party for p in performers_of(collect, DIRECTORY)] == ["42-01", "42-02"]
    both = row(responsible=("authority", "rcoi"))
    assert [p.party for p in performers_of(both, DIRECTORY)] == ["authority", "rcoi"]
    # a stage whose plan names another performer (Tomsk's schools print) is marked by hand
    printing = row(automated="print", responsible=("school",))
    assert not printing.tracked_by_stage
    assert len(performers_of(printing, DIRECTORY)) == 3


def test_without_a_directory_the_kind_is_one_performer() -> None:
    [only] = performers_of(row(responsible=("mouo",)), Directory())
    assert (only.party, only.kind, only.label) == ("mouo", "mouo", "МОУО (все)")


# --- states -------------------------------------------------------------------------------------


def test_before_the_start_not_started_within_running_past_the_due_late() -> None:
    rows = [row()]
    assert set(states(cells_of(rows, DIRECTORY, {}, START - timedelta(days=1)))) == {
        RowStatus.NOT_STARTED
    }
    assert set(states(cells_of(rows, DIRECTORY, {}, START + timedelta(days=1)))) == {
        RowStatus.RUNNING
    }
    late = cells_of(rows, DIRECTORY, {}, DUE + timedelta(hours=5))
    assert set(states(late)) == {RowStatus.LATE}
    assert late[0].lateness(DUE + timedelta(hours=5)) == timedelta(hours=5)


def test_a_row_with_only_a_deadline_opens_two_weeks_before_it() -> None:
    rows = [row(windows=((None, DUE),))]
    assert (
        states(cells_of(rows, DIRECTORY, {}, DUE - timedelta(days=30)))
        == [RowStatus.NOT_STARTED] * 3
    )
    assert set(states(cells_of(rows, DIRECTORY, {}, DUE - timedelta(days=13)))) == {
        RowStatus.RUNNING
    }


def test_a_mark_is_done_for_its_performer_only_and_lateness_stays_visible() -> None:
    done = {(1, "4201001", 0): (DUE + timedelta(days=2), "ivanova")}
    now = DUE + timedelta(days=3)
    cells = cells_of([row()], DIRECTORY, done, now)
    assert states(cells, "4201001") == [RowStatus.DONE]
    assert states(cells, "4201002") == [RowStatus.LATE]
    marked = next(c for c in cells if c.performer.party == "4201001")
    assert (marked.done_by, marked.lateness(now)) == ("ivanova", timedelta(days=2))


def test_an_external_reference_waits_for_its_dates() -> None:
    cells = cells_of(
        [row(external="по графику ФЦТ", windows=((None, None),), responsible=("rcoi", "fct"))],
        DIRECTORY,
        {},
        DUE,
    )
    assert set(states(cells)) == {RowStatus.WAITING}
    assert "по графику ФЦТ" in cells[0].reason
    assert cells[0].waiting_on == "ФЦТ"


def test_a_row_waits_for_its_predecessor_and_names_who_it_waits_for() -> None:
    first = row("collect", responsible=("mouo",), windows=((START, DUE + timedelta(days=5)),))
    second = row("registry", responsible=("rcoi",), after=("collect",), stage_id=2)
    now = START + timedelta(days=2)
    waiting = cells_of([first, second], DIRECTORY, {}, now)
    [registry] = [c for c in waiting if c.row.stage_key == "registry"]
    assert registry.state is RowStatus.WAITING
    assert "Строка collect" in registry.reason
    done = {(1, "42-01", 0): (now, "x"), (1, "42-02", 0): (now, "x")}
    [free] = [
        c for c in cells_of([first, second], DIRECTORY, done, now) if c.row.plan_stage_id == 2
    ]
    assert free.state is RowStatus.RUNNING


def test_a_running_stage_key_makes_its_row_run() -> None:
    rcoi = row("print", responsible=("rcoi",), automated="print")
    now = START + timedelta(days=1)
    [cell] = cells_of([rcoi], DIRECTORY, {}, now, running=[("2017-12-06", "print")])
    assert (cell.state, cell.reason) == (RowStatus.RUNNING, "идёт прогон этапа")


def test_every_occurrence_of_a_row_is_a_cell_of_its_own() -> None:
    march = (datetime(2024, 3, 1, tzinfo=ZONE), datetime(2024, 4, 1, tzinfo=ZONE))
    may = (datetime(2024, 5, 1, tzinfo=ZONE), datetime(2024, 6, 1, tzinfo=ZONE))
    months = row("analysis", responsible=("rcoi",), windows=(march, may))
    now = datetime(2024, 4, 15, tzinfo=ZONE)
    cells = cells_of([months], DIRECTORY, {}, now)
    assert [(c.occurrence, c.state) for c in cells] == [
        (0, RowStatus.LATE),
        (1, RowStatus.NOT_STARTED),
    ]
    done = cells_of([months], DIRECTORY, {(1, "rcoi", 0): (now, "x")}, now)
    assert [c.state for c in done] == [RowStatus.DONE, RowStatus.NOT_STARTED]


def test_the_board_clock_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        cells_of([row()], DIRECTORY, {}, datetime(2017, 11, 1))


def test_overall_is_the_state_that_needs_someone() -> None:
    assert overall([RowStatus.DONE, RowStatus.LATE, RowStatus.WAITING]) is RowStatus.LATE
    assert overall([RowStatus.DONE, RowStatus.WAITING]) is RowStatus.WAITING
    assert overall([RowStatus.DONE, RowStatus.DONE]) is RowStatus.DONE
    assert overall([RowStatus.NOT_STARTED, RowStatus.DONE]) is RowStatus.RUNNING
    assert overall([RowStatus.NOT_STARTED]) is RowStatus.NOT_STARTED


# --- the chain ----------------------------------------------------------------------------------


def school_check(party: str, parent: str, completed: bool = False) -> Check:
    return Check(
        plan_stage_id=7,
        session_code="2017-12-06",
        stage_key="commissions",
        title="Формирование комиссий ОО",
        due=DUE,
        zone=str(ZONE),
        party=party,
        completed=completed,
        kind="school",
        parent=parent,
    )


def test_a_late_school_is_alerted_its_mouo_told_then_the_coordinator_then_the_authority() -> None:
    checks = [
        school_check("4201001", "42-01"),
        school_check("4201002", "42-01", completed=True),
        school_check("4202001", "42-02"),
    ]
    at_due = evaluate(checks, DUE + timedelta(hours=1))
    by_kind = {
        kind: sorted((n.recipient, n.parties) for n in at_due if n.kind is kind)
        for kind in NoticeKind
    }
    assert by_kind[NoticeKind.ALERT] == [("4201001", ()), ("4202001", ())]
    # each МОУО hears of its own late schools only
    assert by_kind[NoticeKind.MUNICIPAL] == [("42-01", ("4201001",)), ("42-02", ("4202001",))]
    assert by_kind[NoticeKind.ESCALATION] == [("coordinator", ("4201001", "4202001"))]
    assert by_kind[NoticeKind.AUTHORITY] == []
    later = evaluate(checks, DUE + timedelta(days=1, hours=1))
    assert [n.recipient for n in later if n.kind is NoticeKind.AUTHORITY] == ["authority"]
    assert len({n.key for n in later}) == len(later)


def test_the_chain_can_wait_between_its_steps() -> None:
    policy = Policy(municipal_delay=timedelta(hours=2), coordinator_delay=timedelta(hours=6))
    checks = [school_check("4201001", "42-01")]
    kinds = lambda hours: {n.kind for n in evaluate(checks, DUE + timedelta(hours=hours), policy)}  # noqa: E731
    assert kinds(1) == {NoticeKind.ALERT}
    assert kinds(3) == {NoticeKind.ALERT, NoticeKind.MUNICIPAL}
    assert kinds(7) == {NoticeKind.ALERT, NoticeKind.MUNICIPAL, NoticeKind.ESCALATION}
    with pytest.raises(ValueError, match="school → МОУО → coordinator"):
        Policy(municipal_delay=timedelta(hours=3), coordinator_delay=timedelta(hours=1))


def test_outside_bodies_and_the_rcoi_are_not_alerted_themselves() -> None:
    base = school_check("x", "42-01")
    for party, kind in [("rcoi", "rcoi"), ("fct", "fct"), ("other", "other"), ("mouo", "mouo")]:
        check = Check(**{**_fields(base), "party": party, "kind": kind, "parent": None})
        notices = evaluate([check], DUE + timedelta(hours=1))
        assert [n.kind for n in notices] == [NoticeKind.ESCALATION], party
    authority = Check(
        **{**_fields(base), "party": "authority", "kind": "authority", "parent": None}
    )
    kinds = [n.kind for n in evaluate([authority], DUE + timedelta(hours=1))]
    assert kinds == [NoticeKind.ALERT, NoticeKind.ESCALATION]


def _fields(check: Check) -> dict:
    return {name: getattr(check, name) for name in Check.__dataclass_fields__}


def test_every_occurrence_has_its_own_notices() -> None:
    second_due = DUE + timedelta(days=30)
    first = school_check("4201001", "42-01")
    second = Check(**{**_fields(first), "due": second_due, "occurrence": 1})
    keys = {n.key for n in evaluate([first, second], second_due + timedelta(hours=1))}
    assert len([k for k in keys if k.startswith("watchdog:alert:")]) == 2


def test_several_notices_to_one_recipient_are_one_letter_with_a_stable_key() -> None:
    checks = [
        school_check("4201001", "42-01"),
        Check(**{**_fields(school_check("4201001", "42-01")), "plan_stage_id": 8,
                 "stage_key": "applications", "title": "Приём заявлений"}),
    ]  # fmt: skip
    alerts = [n for n in evaluate(checks, DUE + timedelta(hours=1)) if n.kind is NoticeKind.ALERT]
    assert len(alerts) == 2
    subject, body = digest_mail(alerts, DUE + timedelta(hours=1))
    assert subject == "Сроки нарушены: 2 строки плана-графика"
    assert "«Формирование комиссий ОО»" in body
    assert "«Приём заявлений»" in body
    assert "ОО 4201001" in body
    assert digest_key(alerts) == digest_key(list(reversed(alerts)))
    assert digest_key(alerts) != digest_key(alerts[:1])


def test_a_notice_key_names_the_instant_not_the_zone() -> None:
    check = school_check("4201001", "42-01")
    moved = Check(**{**_fields(check), "due": DUE.astimezone(UTC)})
    assert {n.key for n in evaluate([check], DUE + timedelta(hours=1))} == {
        n.key for n in evaluate([moved], DUE + timedelta(hours=1))
    }


def test_a_performer_waits_for_its_own_part_of_a_predecessor_it_performs_too() -> None:
    first = row("reports", responsible=("mouo",), windows=((START, DUE + timedelta(days=9)),))
    second = row(
        "summary", responsible=("mouo",), after=("reports",), stage_id=2,
        windows=((START, DUE + timedelta(days=9)),),
    )  # fmt: skip
    now = START + timedelta(days=2)
    done = {(1, "42-01", 0): (now, "x")}  # 42-01 has done its report, 42-02 has not
    cells = {c.performer.party: c for c in cells_of([first, second], DIRECTORY, done, now) if
             c.row.plan_stage_id == 2}  # fmt: skip
    assert cells["42-01"].state is RowStatus.RUNNING
    assert cells["42-02"].state is RowStatus.WAITING


def test_an_exam_row_waits_for_a_year_row_of_another_session() -> None:
    year = BoardRow(**{**_row_fields(row("ris", responsible=("rcoi",))), "session_code": "2023-24"})
    exam = row("seating", responsible=("rcoi",), after=("ris",), stage_id=2)
    [cell] = [c for c in cells_of([year, exam], DIRECTORY, {}, START + timedelta(days=1))
              if c.row.plan_stage_id == 2]  # fmt: skip
    assert cell.state is RowStatus.WAITING
    assert "Строка ris" in cell.reason


def _row_fields(board_row: BoardRow) -> dict:
    return {name: getattr(board_row, name) for name in BoardRow.__dataclass_fields__}


def test_a_row_that_names_nobody_is_the_coordinators() -> None:
    [only] = performers_of(row(responsible=()), DIRECTORY)
    assert (only.party, only.kind) == ("rcoi", "rcoi")


def test_periods_written_out_of_order_are_read_in_calendar_order() -> None:
    from tasks.domain.plan import Plan, check_plan, resolve_plan

    plan = Plan.model_validate(
        {
            "schema_version": 1, "id": "order", "title": "t", "procedure": "ГИА-11",
            "school_year": "2023/24",
            "region": {"code": "86", "name": "Ю", "timezone": "Asia/Yekaterinburg"},
            "year_session": {"id": "2023-24"},
            "stages": [
                {"id": "analysis", "title": "Анализ", "responsible": ["mouo"],
                 "term": "март, май, январь 2024 года",
                 "time": {"kind": "months", "periods": [
                     {"month": "2024-03"}, {"month": "2024-05"}, {"month": "2024-01"}]}},
                {"id": "collect", "title": "Сбор", "stage": "collect", "responsible": ["mouo"],
                 "time": {"kind": "month", "month": "2024-01"}},
            ],
        }
    )  # fmt: skip
    assert check_plan(plan) == []
    [analysis] = resolve_plan(plan)
    assert [due.month for due in analysis.occurrences] == [2, 4, 6]
    assert [start.month for start in analysis.occurrence_starts] == [1, 3, 5]
    # an automated stage runs per exam session: never stored under the year session
    assert not plan.is_year_stage(plan.stages[1])
