"""The board page's view model (tasks/domain/board_view.py): windows read as the plan writes
them in local time with the zone, lateness in days and hours, one summary per row and session
from its cells, rows grouped under their sections across sessions, the state filter, the
figures of automated stages and the drill-down's lines per performer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tasks.domain.board import BoardRow, Cell, Directory, Performer, RowStatus, cells_of
from tasks.domain.board_view import (
    LastRun,
    StageCounts,
    board_sections,
    counts_of,
    format_lateness,
    format_windows,
    only_state,
    party_lines,
    period_labels,
    state_totals,
    summarise,
)

NOVOKUZNETSK = "Asia/Novokuznetsk"
MEGION = "Asia/Yekaterinburg"
TZ = ZoneInfo(NOVOKUZNETSK)
NOW = datetime(2017, 11, 25, 10, 0, tzinfo=TZ)


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, zone: str = NOVOKUZNETSK
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def row(
    stage_id: int,
    key: str,
    *,
    session: str = "2017-12-06",
    windows: tuple[tuple[datetime | None, datetime | None], ...] = ((None, local(2017, 11, 23)),),
    responsible: tuple[str, ...] = ("rcoi",),
    automated: str | None = None,
    section: str | None = None,
    number: str | None = None,
    position: int = 0,
    after: tuple[str, ...] = (),
    external: str | None = None,
) -> BoardRow:
    return BoardRow(
        plan_stage_id=stage_id,
        session_code=session,
        stage_key=key,
        row=number,
        section=section,
        title=f"Строка {key}",
        term=None,
        automated=automated,
        responsible=responsible,
        performers=("РЦОИ",),
        zone=NOVOKUZNETSK,
        windows=windows,
        after=after,
        external=external,
        position=position,
    )


DIRECTORY = Directory(
    mouos=(Performer("42-01", "mouo", None, "УО 1"), Performer("42-02", "mouo", None, "УО 2")),
    schools=(
        Performer("4201001", "school", "42-01", "Школа № 1"),
        Performer("4201002", "school", "42-01", "Школа № 2"),
        Performer("4202001", "school", "42-02", "Лицей № 1"),
    ),
)


# --- windows and lateness ----------------------------------------------------------------------


def test_a_deadline_at_local_midnight_reads_as_24_00_of_the_day_before_with_the_zone() -> None:
    text = format_windows([(None, local(2017, 11, 23))], NOVOKUZNETSK, None)
    assert text == "до 22.11.2017 24:00 (Asia/Novokuznetsk)"


def test_a_deadline_given_in_utc_is_shown_in_the_rows_zone() -> None:
    due = datetime(2017, 11, 22, 17, 0, tzinfo=UTC)  # 23.11 00:00 in Novokuznetsk
    assert format_windows([(None, due)], NOVOKUZNETSK, None).startswith("до 22.11.2017 24:00")


def test_whole_months_read_as_months_and_runs_of_single_months_go_together() -> None:
    def month(year: int, number: int, months: int = 1) -> tuple[datetime, datetime]:
        end_year, end_month = divmod(number - 1 + months, 12)
        return local(year, number, 1, zone=MEGION), local(
            year + end_year, end_month + 1, 1, zone=MEGION
        )

    assert format_windows([month(2023, 11)], MEGION, None) == "ноябрь 2023 (Asia/Yekaterinburg)"
    assert format_windows([month(2023, 8, 2)], MEGION, None).startswith("август – сентябрь 2023")
    assert format_windows([month(2023, 11, 7)], MEGION, None).startswith("ноябрь 2023 – май 2024")
    several = [month(2024, 1), month(2024, 3), month(2024, 5), month(2025, 1)]
    assert format_windows(several, MEGION, None) == (
        "январь, март, май 2024; январь 2025 (Asia/Yekaterinburg)"
    )
    mixed = [month(2023, 11, 7), month(2024, 6), month(2024, 7)]
    assert format_windows(mixed, MEGION, None) == (
        "ноябрь 2023 – май 2024; июнь, июль 2024 (Asia/Yekaterinburg)"
    )


def test_windows_within_a_day_a_whole_day_and_a_start_only() -> None:
    publish = (local(2017, 12, 6, 9, 45), local(2017, 12, 6, 9, 47))
    assert format_windows([publish], NOVOKUZNETSK, None) == (
        "06.12.2017 с 09:45 до 09:47 (Asia/Novokuznetsk)"
    )
    day = (local(2017, 11, 22), local(2017, 11, 23))
    assert format_windows([day], NOVOKUZNETSK, None) == "22.11.2017 (Asia/Novokuznetsk)"
    span = (local(2024, 2, 7, 10, 0), local(2024, 2, 14))
    assert format_windows([span], NOVOKUZNETSK, None) == (
        "с 07.02.2024 10:00 до 13.02.2024 24:00 (Asia/Novokuznetsk)"
    )
    assert format_windows([(local(2024, 2, 7, 10, 0), None)], NOVOKUZNETSK, None) == (
        "с 07.02.2024 10:00 (Asia/Novokuznetsk)"
    )


def test_an_external_reference_without_dates_is_quoted_and_no_dates_at_all_said_so() -> None:
    assert format_windows([(None, None)], MEGION, "по отдельному графику") == (
        "«по отдельному графику» (даты не внесены)"
    )
    assert format_windows([(None, None)], MEGION, None) == "срок не указан"


def test_each_period_of_a_row_is_labelled_on_its_own_without_the_zone() -> None:
    periods = row(
        1,
        "monthly",
        windows=((local(2024, 1, 1), local(2024, 2, 1)), (None, local(2024, 3, 1))),
    )
    assert period_labels(periods) == ["январь 2024", "до 29.02.2024 24:00"]


def test_lateness_reads_in_days_and_hours_or_hours_and_minutes() -> None:
    assert format_lateness(timedelta(days=2, hours=3, minutes=40)) == "2 дн. 3 ч."
    assert format_lateness(timedelta(days=2)) == "2 дн."
    assert format_lateness(timedelta(hours=5, minutes=20)) == "5 ч. 20 мин."
    assert format_lateness(timedelta(hours=5)) == "5 ч."
    assert format_lateness(timedelta(minutes=15, seconds=59)) == "15 мин."
    assert format_lateness(timedelta(seconds=5)) == "1 мин."
    assert format_lateness(None) == ""


# --- one row, one session ----------------------------------------------------------------------


def test_a_row_of_three_schools_one_done_late_and_two_late_is_late_with_who_and_how_much() -> None:
    schools = row(1, "commissions", responsible=("school",))
    done = {(1, "4201001", 0): (local(2017, 11, 23, 12, 0), "ivanova")}
    cells = cells_of([schools], DIRECTORY, done, NOW)
    summary = summarise(schools, cells, NOW)
    assert summary.state is RowStatus.LATE
    assert summary.state_ru == "просрочен"
    assert (summary.performers_done, summary.performers_total) == (1, 3)
    assert (summary.periods_done, summary.periods_total) == (1, 3)
    assert summary.late_count == 2
    assert summary.lateness == timedelta(days=2, hours=10)
    assert summary.lateness_ru == "просрочен на 2 дн. 10 ч."
    assert summary.late_parties == ("ОО 4201002", "ОО 4202001")
    assert summary.done_late_ru == "выполнено позже срока на 12 ч."  # by one of three
    assert summary.term == "до 22.11.2017 24:00 (Asia/Novokuznetsk)"
    assert summary.manual
    marks = {p.party: (p.open, p.marked, p.per_school) for p in summary.parties}
    assert marks == {
        "4201001": (False, True, True),
        "4201002": (True, False, True),
        "4202001": (True, False, True),
    }


def test_a_row_waiting_for_its_predecessor_names_the_reason_and_on_whom() -> None:
    first = row(1, "reconcile", windows=((None, local(2017, 12, 1)),), number="4")
    second = row(
        2,
        "print",
        windows=((local(2017, 11, 24), local(2017, 12, 6)),),
        after=("reconcile",),
        position=1,
    )
    cells = cells_of([first, second], DIRECTORY, {}, NOW)
    summary = summarise(second, [c for c in cells if c.row is second], NOW)
    assert summary.state is RowStatus.WAITING
    assert summary.waiting_reason == "ждёт завершения этапа «Строка reconcile» (строка 4)"
    assert summary.waiting_on == "РЦОИ"
    assert summary.lateness is None
    assert summary.lateness_ru == ""


def test_many_late_performers_are_named_up_to_five_and_the_rest_counted() -> None:
    many = Directory(schools=tuple(Performer(f"42010{n:02d}", "school", "42-01") for n in range(8)))
    schools = row(1, "commissions", responsible=("school",))
    summary = summarise(schools, cells_of([schools], many, {}, NOW), NOW)
    assert len(summary.late_parties) == 5
    assert summary.late_more == 3


def test_counts_and_the_last_run_belong_to_rows_their_stage_tracks_only() -> None:
    counts = StageCounts(mouo_submitted=1, mouo_total=2, rows_rejected=7)
    collect = row(1, "collect", responsible=("mouo",), automated="collect")
    by_schools = row(2, "print_protocols", responsible=("school",), automated="print")
    run = LastRun("0b7c3a9e-1f0e-4f4f-9a39-5b2f0d6c1a11", local(2017, 11, 20, 12, 0))
    tracked = summarise(collect, cells_of([collect], DIRECTORY, {}, NOW), NOW, counts, run)
    assert tracked.counts == (("МОУО сдали", "1/2"), ("строк отклонено", "7"))
    assert tracked.run == run
    assert not tracked.manual
    manual = summarise(by_schools, cells_of([by_schools], DIRECTORY, {}, NOW), NOW, counts)
    assert manual.counts == ()
    assert manual.manual


def test_each_automated_stage_shows_its_own_figures() -> None:
    counts = StageCounts(
        discrepancies_open=3,
        kits_printed=120,
        pages_scanned=480,
        queue_open=5,
        works_graded=90,
        acks_received=1,
        acks_sent=2,
    )
    assert counts_of("reconcile", counts) == (("расхождений открыто", "3"),)
    assert counts_of("print", counts) == (("комплектов напечатано", "120"),)
    assert counts_of("scan", counts) == (
        ("страниц отсканировано", "480"),
        ("в очереди верификации", "5"),
    )
    assert counts_of("grade", counts) == (("работ проверено", "90"),)
    assert counts_of("inform", counts) == (("подтверждений", "1/2"),)
    assert counts_of("publish", counts) == ()
    assert counts_of(None, counts) == ()


# --- the board of a plan -----------------------------------------------------------------------


def plan_rows() -> list[BoardRow]:
    """Two rows in two sessions, the first under a section, plus a year row."""
    rows = []
    for n, session in enumerate(("2017-12-06", "2018-02-07")):
        shift = timedelta(days=63 * n)
        rows += [
            row(
                10 + n,
                "applications",
                session=session,
                windows=((None, local(2017, 11, 23) + shift),),
                section="Подготовка",
                number="1",
            ),
            row(
                20 + n,
                "commissions",
                session=session,
                windows=((None, local(2017, 11, 23) + shift),),
                section="Подготовка",
                number="2",
                position=1,
            ),
        ]
    rows.append(
        row(
            30,
            "report",
            session="2017-18",
            windows=((local(2018, 6, 1), local(2018, 7, 1)),),
            section="Отчёты",
            number="3",
            position=2,
        )
    )
    return rows


def test_the_board_groups_a_row_across_sessions_in_plan_order_under_its_section() -> None:
    rows = plan_rows()
    done = {(20, "rcoi", 0): (local(2017, 11, 20), "koord")}
    sections = board_sections(rows, cells_of(rows, Directory(), done, NOW), NOW)
    assert [s.title for s in sections] == ["Подготовка", "Отчёты"]
    first = sections[0].lines[0]
    assert (first.stage_key, first.number, first.numbered) == ("applications", "1", True)
    assert [s.session_code for s in first.sessions] == ["2017-12-06", "2018-02-07"]
    # February's deadline is months away: a row with no start opens two weeks before it
    assert [s.state for s in first.sessions] == [RowStatus.LATE, RowStatus.NOT_STARTED]
    assert [s.state for s in sections[0].lines[1].sessions] == [
        RowStatus.DONE,
        RowStatus.NOT_STARTED,
    ]
    assert sections[1].lines[0].sessions[0].state is RowStatus.NOT_STARTED
    assert state_totals(sections) == {
        RowStatus.NOT_STARTED: 3,
        RowStatus.RUNNING: 0,
        RowStatus.WAITING: 0,
        RowStatus.DONE: 1,
        RowStatus.LATE: 1,
    }


def test_the_board_shows_the_sessions_asked_for_in_their_order() -> None:
    rows = plan_rows()
    cells = cells_of(rows, Directory(), {}, NOW)
    sections = board_sections(rows, cells, NOW, sessions=["2018-02-07"])
    assert [s.title for s in sections] == ["Подготовка"]
    assert [[x.session_code for x in line.sessions] for line in sections[0].lines] == [
        ["2018-02-07"],
        ["2018-02-07"],
    ]


def test_the_state_filter_keeps_only_summaries_in_that_state_and_drops_empty_sections() -> None:
    rows = plan_rows()
    cells = cells_of(rows, Directory(), {}, NOW)
    late = board_sections(rows, cells, NOW, state=RowStatus.LATE)
    assert [
        (line.stage_key, [s.session_code for s in line.sessions]) for line in late[0].lines
    ] == [
        ("applications", ["2017-12-06"]),
        ("commissions", ["2017-12-06"]),
    ]
    assert len(late) == 1
    everything = board_sections(rows, cells, NOW)
    assert only_state(everything, None) == everything
    assert only_state(everything, RowStatus.WAITING) == []


def test_a_row_without_a_number_gets_its_place_in_the_plan() -> None:
    unnumbered = row(1, "applications", position=4)
    sections = board_sections([unnumbered], cells_of([unnumbered], Directory(), {}, NOW), NOW)
    line = sections[0].lines[0]
    assert (line.number, line.numbered, sections[0].title) == ("5", False, None)


# --- the МОУО drill-down -----------------------------------------------------------------------


def test_party_lines_give_one_line_per_row_and_performer_of_the_ones_asked_for() -> None:
    monthly = row(
        1,
        "monthly",
        responsible=("mouo",),
        windows=(
            (local(2017, 9, 1), local(2017, 10, 1)),
            (local(2017, 10, 1), local(2017, 11, 1)),
            (local(2017, 11, 1), local(2017, 12, 1)),
        ),
    )
    schools = row(2, "commissions", responsible=("school",), position=1)
    done = {
        (1, "42-01", 0): (local(2017, 9, 20), "этап"),
        (1, "42-01", 1): (local(2017, 11, 2), "koord"),
        (2, "4201002", 0): (local(2017, 11, 20), "koord"),
    }
    cells: list[Cell] = cells_of([monthly, schools], DIRECTORY, done, NOW)
    own = party_lines(cells, ["42-01"], NOW)
    assert [(line.row.stage_key, line.party) for line in own] == [("monthly", "42-01")]
    line = own[0]
    assert line.state is RowStatus.RUNNING  # the third month is under way
    assert (line.periods_done, line.periods_total) == (2, 3)
    assert (line.done_at, line.done_by, line.marked) == (local(2017, 11, 2), "koord", True)
    assert line.term == "сентябрь, октябрь, ноябрь 2017 (Asia/Novokuznetsk)"
    lines = party_lines(cells, ["4201001", "4201002"], NOW)
    assert [(x.party, x.state_ru, x.name) for x in lines] == [
        ("4201001", "просрочен", "Школа № 1"),
        ("4201002", "выполнен", "Школа № 2"),
    ]
    assert lines[0].lateness_ru == "просрочен на 2 дн. 10 ч."
    assert lines[0].open
    assert not lines[1].open
    assert lines[0].reason == "срок истёк, выполнение не зарегистрировано (ОО 4201001)"
