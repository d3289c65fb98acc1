"""The whole plan-schedule on one board, through a simulated season (issue 17).

For the Kemerovo essay plan, the Tomsk interview plan and both road maps (Megion, Kuzbass):
`rcoi plan load` into a SQLite database of its own, a small directory of performers (two МОУО,
two schools each), and then

- at instants before, inside and after the plan, every row of every session has a state on the
  board — per performer where the row is per МОУО or per school, per period where it has
  several — and that state is the one the clock says (external references «ожидание», before
  the start «не начат», past the due «просрочен»);
- a season moved through one row on a simulated clock (Kemerovo 2017-12-06, Megion's January
  period of row 1.5, Tomsk 2024-02-14): schools (and МОУО) mark it done with `rcoi plan done`
  on time, between the reminders, late or never, and the `watchdog` flow runs 3 days and
  1 day before the due, just after it and after the authority delay. The letters a real SMTP
  server (aiosmtpd on loopback) received say, per performer, who was reminded, alerted,
  listed to their МОУО (its own late schools only), to the coordinator and then to the
  authority — each once; a late mark shows «выполнен» with its lateness, `rcoi plan reopen`
  puts the row back; the stored row states are the board's;
- the full Kuzbass road map, watched once in the middle of the year, mails digests: one
  letter per kind for each recipient, not one per row.

`rcoi plan load|done` run in this process (the same Typer app, see season_support.cli),
`rcoi plan reopen` as a subprocess; the flow runs against one ephemeral Prefect server for the
module. A row graded per school has every school of the region as its performers while no
school holds the session's kits (`test_a_graded_row_has_a_state_before_kits_are_printed`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import select

from flows.watchdog import watchdog
from tasks.adapters.board import BoardScope, board_cells, load_scope, mark_done
from tasks.adapters.models import AuditLog, Notification, RowMark, RowState
from tasks.adapters.plan_files import load_calendar, load_plan, resolve_plan_path
from tasks.domain.board import (
    AUTOMATED_PARTY,
    OPEN_BEFORE_DUE,
    STATE_RU,
    BoardRow,
    Cell,
    RowStatus,
)
from tasks.domain.board_view import party_lines, summarise
from tasks.domain.plan import resolve_plan
from tests.cli_support import rcoi
from tests.season_support import (
    AUTHORITY,
    COORDINATOR,
    Item,
    Letter,
    Performers,
    cli,
    database,
    items_of,
    letters_of,
    load_plan_into,
    notice_key,
)
from tests.smtp_support import HOST, RecordingHandler, smtp_server

pytestmark = [pytest.mark.flows, pytest.mark.integration, pytest.mark.slow]

KEMEROVO, TOMSK = "kemerovo-2017-essay", "tomsk-2024-interview"
MEGION, KUZBASS = "megion-2024-roadmap", "kuzbass-2024-roadmap"
PLANS = [KEMEROVO, TOMSK, MEGION, KUZBASS]
REGION = {
    KEMEROVO: ("42", "Asia/Novokuznetsk"),
    TOMSK: ("70", "Asia/Tomsk"),
    MEGION: ("86", "Asia/Yekaterinburg"),
    KUZBASS: ("42", "Asia/Novokuznetsk"),
}
# An instant inside each plan, besides one before its first date and one after its last.
INSIDE = {
    KEMEROVO: ["2017-11-22T12:00+07:00", "2017-12-06T12:00+07:00", "2018-02-07T09:46+07:00"],
    TOMSK: ["2024-02-10T12:00+07:00", "2024-02-14T12:00+07:00"],
    MEGION: ["2024-02-15T10:00+05:00"],
    KUZBASS: ["2024-02-15T10:00+07:00", "2024-05-28T12:00+07:00"],
}
FIVE = {"не начат", "идёт", "ожидание", "выполнен", "просрочен"}
DAY, HOUR = timedelta(days=1), timedelta(hours=1)


# --- the servers ------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def mailbox() -> Iterator[RecordingHandler]:
    """One SMTP server for the module, the settings pointing at it (every plan's database is
    the SQLite file in its own folder: no RCOI_DATABASE_URL)."""
    handler = RecordingHandler()
    with smtp_server(handler) as port, pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "RCOI_SMTP_HOST": HOST,
            "RCOI_SMTP_PORT": str(port),
            "RCOI_SMTP_SECURITY": "none",
            "RCOI_COORDINATOR_EMAILS": f'["{COORDINATOR}"]',
            "RCOI_AUTHORITY_EMAILS": f'["{AUTHORITY}"]',
        }.items():
            patch.setenv(name, value)
        for name in ("RCOI_DATABASE_URL", "RCOI_OUT_DIR", "RCOI_PREFECT_API_URL"):
            patch.delenv(name, raising=False)
        yield handler


@pytest.fixture(scope="module")
def loaded(
    tmp_path_factory: pytest.TempPathFactory, mailbox: RecordingHandler
) -> Callable[[str], tuple[Path, Performers]]:
    """Each plan loaded once for the module, with its directory and nothing marked (the board
    checks only read it; the Kuzbass watchdog run adds notices and stored states, no marks)."""
    cache: dict[str, tuple[Path, Performers]] = {}

    def load(plan: str) -> tuple[Path, Performers]:
        if plan not in cache:
            out = tmp_path_factory.mktemp(plan)
            cache[plan] = (out, load_plan_into(plan, out, *REGION[plan]))
        return cache[plan]

    return load


def run_watchdog(out: Path, plan: str, session: str | None, now: datetime) -> dict[str, Any]:
    """The `watchdog` flow on the simulated clock, in this process (the module's Prefect)."""
    result = watchdog(out=str(out), plan=plan, session=session, now=now)
    assert isinstance(result, dict), result
    return result


# --- the board --------------------------------------------------------------------------------


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _expected_rows(plan: str) -> dict[tuple[str, str], int]:
    """(session, row id) -> number of periods, for every session of the plan file."""
    the_plan = load_plan(resolve_plan_path(plan))
    calendar = load_calendar(the_plan.calendar)
    return {
        (session.id, stage.stage_id): len(stage.windows())
        for session in the_plan.board_sessions()
        for stage in resolve_plan(the_plan, session.id, calendar)
    }


def _graded(row: BoardRow) -> bool:
    """Graded per school holding the session's kits (none holds any in these databases: every
    school of the region, see test_a_graded_row_has_a_state_before_kits_are_printed)."""
    return row.tracked_by_stage and row.automated == "grade"


def _parties_expected(row: BoardRow, directory: Performers) -> set[str]:
    """One performer per МОУО or school of the directory where the row is theirs, else the body;
    a row its stage completes is performed by that stage's kind of party only."""
    kinds = [AUTOMATED_PARTY[row.automated or ""]] if row.tracked_by_stage else row.responsible
    parties: set[str] = set()
    for kind in kinds:
        if kind == "mouo":
            parties |= set(directory.mouos)
        elif kind in ("school", "commission"):
            parties |= set(directory.schools)
        else:
            parties.add(kind)
    return parties


def _opens(cell: Cell) -> datetime:
    """When a cell's work begins: its start; a row with only a deadline, OPEN_BEFORE_DUE
    before it; a row with neither, always."""
    if cell.start is not None:
        return cell.start
    if cell.due is not None:
        return cell.due - OPEN_BEFORE_DUE
    return datetime.min.replace(tzinfo=UTC)


def _check_cell(cell: Cell, now: datetime, rows: dict[tuple[str, str], BoardRow]) -> None:
    """The state the clock gives a cell of a row nobody has marked: under way, or waiting for
    the first of its predecessors (none is done) with that row's title and performers."""
    where = f"{cell.row.session_code}/{cell.row.stage_key} {cell.performer.party}#{cell.occurrence}"
    assert STATE_RU[cell.state] in FIVE, where
    assert cell.done_at is None, where
    if cell.row.external is not None:
        assert cell.state is RowStatus.WAITING, where
        assert cell.row.external in cell.reason, where
        assert cell.waiting_on, where
    elif cell.due is not None and now >= cell.due:
        assert cell.state is RowStatus.LATE, where
        assert cell.reason.startswith("срок истёк"), where
        assert cell.lateness(now) == now - cell.due, where
    elif now < _opens(cell):
        assert cell.state is RowStatus.NOT_STARTED, where
        assert not cell.reason, where
    else:
        before = [rows[(cell.row.session_code, k)] for k in cell.row.after]
        if before:
            first = before[0]
            assert cell.state is RowStatus.WAITING, where
            assert cell.reason.startswith(f"ждёт завершения этапа «{first.title}»"), where
            assert cell.waiting_on == ", ".join(first.performers), where
        else:
            assert cell.state is RowStatus.RUNNING, where
            assert not cell.reason, where


@pytest.mark.parametrize("plan", PLANS)
def test_every_row_of_every_session_has_a_state(
    plan: str, loaded: Callable[[str], tuple[Path, Performers]]
) -> None:
    out, directory = loaded(plan)
    expected = _expected_rows(plan)
    with database(out) as session:
        scope = load_scope(session, plan)
        rows = {(r.session_code, r.stage_key): r for r in scope.rows}
        assert set(rows) == set(expected)  # every row of every session, the year's included
        assert [s for s in scope.sessions.values()] == list(dict.fromkeys(s for s, _ in expected))
        assert {(p.party, p.parent) for p in scope.directory.schools} == set(
            directory.schools.items()
        )
        moments = [t for r in scope.rows for w in r.windows for t in w if t is not None]
        instants = [min(moments) - DAY, *map(_instant, INSIDE[plan]), max(moments) + DAY]
        seen: Counter[RowStatus] = Counter()
        for now in instants:
            cells = board_cells(session, scope, now)
            by_row: dict[int, list[Cell]] = {}
            for cell in cells:
                by_row.setdefault(cell.row.plan_stage_id, []).append(cell)
                _check_cell(cell, now, rows)
                seen[cell.state] += 1
            for key, row in rows.items():
                own = by_row.get(row.plan_stage_id, [])
                assert own, f"row {key} has no state at {now}"
                parties = {c.performer.party for c in own}
                assert parties == _parties_expected(row, directory), key
                periods = expected[key]
                assert len(row.windows) == periods, key
                assert sorted((c.performer.party, c.occurrence) for c in own) == sorted(
                    (p, n) for p in parties for n in range(periods)
                ), key
            if now == instants[0]:  # before the plan: nothing late, nothing done
                assert not [c for c in cells if c.state is RowStatus.LATE]
            if now == instants[-1]:  # after it: every dated, unmarked row is late
                assert all(
                    c.state is RowStatus.LATE
                    for c in cells
                    if c.due is not None and c.row.external is None
                )
        assert seen[RowStatus.NOT_STARTED]
        assert seen[RowStatus.LATE]
        assert seen[RowStatus.RUNNING]
        if any(r.external for r in scope.rows):
            assert seen[RowStatus.WAITING]


@pytest.mark.parametrize("plan", [KEMEROVO, TOMSK])
def test_a_graded_row_has_a_state_before_kits_are_printed(
    plan: str, loaded: Callable[[str], tuple[Path, Performers]]
) -> None:
    out, _ = loaded(plan)
    with database(out) as session:
        scope = load_scope(session, plan)
        graded = [r for r in scope.rows if _graded(r)]
        assert graded
        for row in graded:
            due = row.windows[0][1]
            assert due is not None
            cells = [
                c
                for c in board_cells(session, scope, due + DAY)
                if c.row.plan_stage_id == row.plan_stage_id
            ]
            assert cells, f"{row.session_code}/{row.stage_key} has no state past its due"
            assert all(c.state is RowStatus.LATE for c in cells)


# --- the season -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Season:
    """One row moved through a season: who marks it when (parties are МОУО or school codes)."""

    plan: str
    session: str
    row: str  # as `rcoi plan done` takes it: the stage id or the source's number
    stage: str
    occurrence: int  # which period (0-based)
    on_time: tuple[str, ...]  # marked before the first reminder
    between: tuple[str, ...]  # marked between the two reminders
    late: tuple[str, ...]  # marked after the alert (the first one is then reopened)
    never: tuple[str, ...]
    # Other rows due the same instant, marked on time before the season (not by this test's
    # performers' commands: they only keep this row's notices in letters of their own).
    setup: tuple[tuple[str, str], ...] = ()
    # What the other rows of the session (done by their stages, which do not run here) send
    # at each step of the season: step -> items.
    others: dict[str, set[Item]] = field(default_factory=dict)


@dataclass
class Run:
    result: dict[str, Any]
    letters: list[Letter]


class Clock:
    """The season's side effects: the CLI at an instant, the watchdog flow at an instant."""

    def __init__(self, season: Season, out: Path, directory: Performers, mailbox: RecordingHandler):
        self.season, self.out, self.directory, self.mailbox = season, out, directory, mailbox

    def _who(self, party: str) -> list[str]:
        return ["--school", party] if party.isdigit() else ["--mouo", party]

    def mark(
        self, party: str, now: datetime, *, again: bool = False, current: bool = False
    ) -> None:
        """`rcoi plan done` for `party` at `now`; `current`: without --occurrence (the period
        under way then)."""
        s = self.season
        period = [] if current else ["--occurrence", str(s.occurrence + 1)]
        result = cli(
            "plan", "done", s.row, "--plan", s.plan, "--session", s.session, *self._who(party),
            "--actor", f"ispolnitel-{party}", "--note", "протокол заседания, приказ ОО",
            *period, "--now", now.isoformat(), "--out", str(self.out),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "отмечена выполненной" in result.stdout
        assert ("ничего не изменено" in result.stdout) is again

    def reopen(self, party: str, now: datetime) -> None:
        """`rcoi plan reopen` as the operator runs it: the installed command, in a process of
        its own."""
        s = self.season
        result = rcoi(
            "plan", "reopen", s.row, "--plan", s.plan, "--session", s.session, *self._who(party),
            "--actor", "koordinator", "--reason", "протокол не приложен",
            "--occurrence", str(s.occurrence + 1), "--now", now.isoformat(),
            "--out", str(self.out),
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert "открыта снова" in result.stdout

    def watch(self, now: datetime) -> Run:
        before = len(self.mailbox.envelopes)
        result = run_watchdog(self.out, self.season.plan, self.season.session, now)
        letters = letters_of(self.mailbox.envelopes[before:])
        # digests: one letter per kind for each recipient, whatever the number of rows
        per = Counter((address, letter.kind) for letter in letters for address in letter.to)
        assert max(per.values(), default=1) == 1, per
        assert sum(result["sent"].values()) >= len(letters)
        assert result["no_address"] == 0
        for letter in letters:  # codes, never names
            assert not [n for n in self.directory.names if n in letter.subject + letter.body]
            for address in letter.to:
                party = self.directory.party_of(address)
                if party not in ("coordinator", "authority"):
                    label = "ОО" if party.isdigit() else "МОУО"
                    assert f"Уважаемые коллеги ({label} {party})!" in letter.body
        return Run(result, letters)


def _board(out: Path, season: Season, now: datetime) -> tuple[BoardScope, list[Cell]]:
    with database(out) as session:
        scope = load_scope(session, season.plan, [season.session])
        return scope, board_cells(session, scope, now)


def _row_cells(cells: list[Cell], season: Season) -> dict[str, Cell]:
    """This row's cells of the season's period, by performer."""
    return {
        c.performer.party: c
        for c in cells
        if c.row.stage_key == season.stage and c.occurrence == season.occurrence
    }


def _stored_match_board(out: Path, cells: list[Cell]) -> None:
    """The row states the watchdog stored are the board's cells at that instant."""
    with database(out) as session:
        ids = {c.row.plan_stage_id for c in cells}
        stored = {
            (s.plan_stage_id, s.party, s.occurrence): (s.state, s.due_at, s.done_at)
            for s in session.scalars(select(RowState).where(RowState.plan_stage_id.in_(ids)))
        }
    board = {
        (c.row.plan_stage_id, c.performer.party, c.occurrence): (c.state.value, c.due, c.done_at)
        for c in cells
    }
    assert stored == board


def _sent_keys(out: Path) -> set[str]:
    with database(out) as session:
        return set(session.scalars(select(Notification.dedup_key)))


def _mine(run: Run, titles: dict[str, str]) -> set[Item]:
    return {item for letter in run.letters for item in items_of(letter, titles)}


def play(season: Season, out: Path, directory: Performers, mailbox: RecordingHandler) -> None:
    """The season around the row's due D: marks, and the watchdog at D-4d (anything overdue
    before the season), D-3d+1h, D-1d+1h, D+1h (twice), D+1d+1h (after the authority delay),
    and after a reopening."""
    clock = Clock(season, out, directory, mailbox)
    scope, _ = _board(out, season, datetime.now(UTC))
    row = next(r for r in scope.rows if r.stage_key == season.stage)
    start, due = row.windows[season.occurrence]
    assert due is not None
    titles = {r.title: r.stage_key for r in scope.rows}
    session, stage = season.session, season.stage
    mouo_of = directory.schools

    def key(kind: str, party: str, offset: timedelta | None = None) -> str:
        return notice_key(kind, session, stage, due, party, offset)

    def email(party: str) -> str:
        return directory.email(party)

    def ours(run: Run) -> set[Item]:
        return {i for i in _mine(run, titles) if i.stage == stage}

    def check(run: Run, expected: set[Item], step: str, keys: set[str]) -> None:
        """This row's notices are `expected`, the others exactly the season's `others`; each
        notice's key is recorded, a letter of one notice carries it as its X-RCOI-Key."""
        assert ours(run) == expected, step
        assert {i for i in _mine(run, titles) if i.stage != stage} == season.others.get(
            step, set()
        ), step
        recorded = _sent_keys(out)
        assert keys <= recorded, keys - recorded
        for letter in run.letters:
            if not letter.digest and letter.key.split(":")[3] == stage:
                assert letter.key in keys, letter.key

    # Before the season: the other rows of the day done on time; the first performers mark.
    t0 = due - 4 * DAY
    assert start is None or start < t0
    with database(out) as db:
        setup_scope = load_scope(db, season.plan, [session])
        for other, party in season.setup:
            outcome = mark_done(db, setup_scope, other, session, party, "setup", "в срок", t0)
            assert outcome.changed
    for party in season.on_time:
        clock.mark(party, t0, current=True)
    first = clock.watch(t0)
    assert not ours(first)  # nothing of this row is due four days ahead
    if "catch-up" in season.others:
        check(first, set(), "catch-up", set())
    else:
        assert not first.letters

    reminded = (*season.between, *season.late, *season.never)
    three = clock.watch(due - 3 * DAY + HOUR)
    check(
        three,
        {Item("reminder", email(p), stage) for p in reminded},
        "3d",
        {key("reminder", p, 3 * DAY) for p in reminded},
    )
    for letter in three.letters:
        if letter.key.split(":")[1:4] == ["reminder", session, stage]:
            assert letter.subject.startswith(f"Напоминание: срок «{row.title}»")
            assert "Осталось 2 дн. 23 ч." in letter.body

    for party in season.between:
        clock.mark(party, due - 2 * DAY)
    still = (*season.late, *season.never)
    one = clock.watch(due - DAY + HOUR)
    check(
        one,
        {Item("reminder", email(p), stage) for p in still},
        "1d",
        {key("reminder", p, DAY) for p in still},
    )

    # The due passes: the chain ОО → МОУО → coordinator, at once; the authority not yet.
    at = due + HOUR
    after = clock.watch(at)
    late_schools: dict[str, tuple[str, ...]] = {}
    for school in sorted(p for p in still if p.isdigit()):
        late_schools[mouo_of[school]] = (*late_schools.get(mouo_of[school], ()), school)
    assert len(late_schools) == 2  # each МОУО hears of its own late schools, not the other's
    check(
        after,
        {Item("alert", email(p), stage) for p in still}
        | {Item("municipal", email(m), stage, schools) for m, schools in late_schools.items()}
        | {Item("escalation", COORDINATOR, stage, tuple(sorted(still)))},
        "due",
        {key("alert", p) for p in still}
        | {key("municipal", m) for m in late_schools}
        | {key("escalation", "coordinator")},
    )
    for letter in after.letters:
        if letter.kind == "alert" and stage in letter.key:
            assert letter.subject == f"Срок нарушен: «{row.title}»"
            assert f"(срок {session}) истёк" in letter.body
        if letter.kind == "municipal" and not letter.digest:
            count = len([ln for ln in letter.body.splitlines() if ln.startswith("  – ОО ")])
            assert letter.subject == f"Нарушен срок «{row.title}»: {count} ОО"
    _, cells = _board(out, season, at)
    _stored_match_board(out, cells)
    mine = _row_cells(cells, season)
    # every performer of the row plays a part in the season
    assert (
        set(mine) == _parties_expected(row, directory) == {*season.on_time, *season.between, *still}
    )
    for party in (*season.on_time, *season.between):
        assert mine[party].state is RowStatus.DONE
        assert mine[party].lateness(at) is None
        assert mine[party].done_by == f"ispolnitel-{party}"
    for party in still:
        assert STATE_RU[mine[party].state] == "просрочен"
        assert mine[party].lateness(at) == HOUR

    sent = len(mailbox.envelopes)
    again = clock.watch(at)  # the same instant again: each notice goes once
    assert sum(again.result["sent"].values()) == 0
    assert not again.letters
    assert len(mailbox.envelopes) == sent
    assert again.result["already_sent"] == after.result["due"]

    # The late performers mark; marking twice changes nothing.
    marked = due + 6 * HOUR
    for party in season.late:
        clock.mark(party, marked)
    clock.mark(season.late[0], marked + HOUR, again=True)
    _, cells = _board(out, season, marked + HOUR)
    mine = _row_cells(cells, season)
    for party in season.late:
        assert STATE_RU[mine[party].state] == "выполнен"
        assert mine[party].done_at == marked
        assert mine[party].lateness(marked + HOUR) == 6 * HOUR  # done, 6 h after the due
    for party in season.never:
        assert mine[party].state is RowStatus.LATE
    # as the board page shows the row, and the row's performers
    seen = marked + HOUR
    own = [c for c in cells if c.row.plan_stage_id == row.plan_stage_id]
    summary = summarise(row, own, seen)
    assert summary.state is RowStatus.LATE  # some never marked
    assert summary.lateness_ru == "просрочен на 7 ч."
    assert summary.done_late_ru == "выполнено позже срока на 6 ч."
    assert summary.late_count == len(season.never)
    for line in party_lines(own, season.late, seen):
        assert line.periods_done == 1
        assert line.periods_total == len(row.windows)
        # one period of several done, the next not begun: under way
        assert line.state_ru == ("выполнен" if len(row.windows) == 1 else "идёт")
        assert line.done_at == marked
        assert line.done_by == f"ispolnitel-{line.party}"

    # After the authority delay: the authority hears of those still late, and of nobody else.
    later = due + DAY + HOUR
    last = clock.watch(later)
    check(
        last,
        {Item("authority", AUTHORITY, stage, tuple(sorted(season.never)))},
        "authority",
        {key("authority", "authority")},
    )
    _, cells = _board(out, season, later)
    _stored_match_board(out, cells)

    # Reopened with a reason: late again on the board; its alert went out already.
    reopened = later + HOUR
    clock.reopen(season.late[0], reopened)
    _, cells = _board(out, season, reopened)
    cell = _row_cells(cells, season)[season.late[0]]
    assert cell.state is RowStatus.LATE
    assert cell.done_at is None
    assert cell.lateness(reopened) == reopened - due
    final = clock.watch(reopened + HOUR)
    check(final, set(), "reopened", set())
    _, cells = _board(out, season, reopened + HOUR)
    _stored_match_board(out, cells)

    # The audit log: each mark once, the reopening with its reason; codes, no names.
    with database(out) as db:
        stage_id = row.plan_stage_id
        audit = db.scalars(
            select(AuditLog).where(AuditLog.entity_id == str(stage_id)).order_by(AuditLog.id)
        ).all()
        marks = db.scalars(select(RowMark).where(RowMark.plan_stage_id == stage_id)).all()
    done_by = [a.new["party"] for a in audit if a.action == "plan_row.done" and a.new]
    assert sorted(done_by) == sorted((*season.on_time, *season.between, *season.late))
    [back] = [a for a in audit if a.action == "plan_row.reopened"]
    assert back.new == {
        "party": season.late[0],
        "occurrence": season.occurrence,
        "state": "open",
        "note": "протокол не приложен",
    }
    assert back.actor == "koordinator"
    assert sorted(m.party for m in marks) == sorted(
        (*season.on_time, *season.between, *season.late[1:])
    )
    assert {m.occurrence for m in marks} == {season.occurrence}


def _season_db(tmp_path: Path, plan: str) -> tuple[Path, Performers]:
    return tmp_path, load_plan_into(plan, tmp_path, *REGION[plan])


def test_kemerovo_essay_season(tmp_path: Path, mailbox: RecordingHandler) -> None:
    """Row «Формирование комиссий ОО» of 2017-12-06, due 22.11.2017 24:00: per school. The
    day's other rows send their own notices: the МОУО's submissions (collect) and the RCOI's
    reconciliation, done by stages that do not run here."""
    out, directory = _season_db(tmp_path, KEMEROVO)
    mouos, coordinator = directory.mouos, COORDINATOR
    season = Season(
        plan=KEMEROVO,
        session="2017-12-06",
        row="commissions_formed",
        stage="commissions_formed",
        occurrence=0,
        on_time=("4201001",),
        between=("4202002",),
        late=("4202001",),
        never=("4201002",),
        setup=tuple(("applications", school) for school in directory.schools),
        others={
            "3d": {Item("reminder", directory.email(m), "submit_participants") for m in mouos}
            | {Item("reminder", coordinator, "load_registry")},
            "1d": {Item("reminder", directory.email(m), "submit_participants") for m in mouos}
            | {Item("reminder", coordinator, "load_registry")},
            "due": {Item("alert", directory.email(m), "submit_participants") for m in mouos}
            | {
                Item("escalation", coordinator, "submit_participants", mouos),
                Item("escalation", coordinator, "load_registry", ("rcoi",)),
            },
            "authority": {
                Item("authority", AUTHORITY, "submit_participants", mouos),
                Item("authority", AUTHORITY, "load_registry", ("rcoi",)),
            },
        },
    )
    play(season, out, directory, mailbox)


def test_megion_road_map_season(tmp_path: Path, mailbox: RecordingHandler) -> None:
    """Row 1.5 («март, май, январь 2024 года»), its January period, due 31.01.2024 24:00: per
    МОУО and per school, МОУО 86-02 never marks. The first run sends what was already overdue
    (the rows of November and December 2023) as one letter per kind for each recipient."""
    out, directory = _season_db(tmp_path, MEGION)
    season = Season(
        plan=MEGION,
        session="2023-24",
        row="1.5",
        stage="s1_5",
        occurrence=0,
        on_time=("8601001", "86-01"),
        between=("8602001",),
        late=("8602002",),
        never=("8601002", "86-02"),
        others={"catch-up": _megion_backlog(out, directory)},
    )
    play(season, out, directory, mailbox)


def _megion_backlog(out: Path, directory: Performers) -> set[Item]:
    """What 28.01.2024 00:00 finds overdue: every row due before it, for each performer —
    alerted, listed to its МОУО, to the coordinator and (a day on) to the authority."""
    now = datetime(2024, 1, 28, tzinfo=ZoneInfo("Asia/Yekaterinburg"))
    with database(out) as session:
        scope = load_scope(session, MEGION)
        cells = board_cells(session, scope, now)
    items: set[Item] = set()
    late_rows: dict[str, list[Cell]] = {}
    for cell in cells:
        if cell.state is RowStatus.LATE:
            late_rows.setdefault(cell.row.stage_key, []).append(cell)
    assert late_rows
    for stage, late in late_rows.items():
        parties = tuple(sorted({c.performer.party for c in late}))
        items |= {Item("alert", directory.email(p), stage) for p in parties}
        for mouo in directory.mouos:
            schools = tuple(s for s in parties if directory.schools.get(s) == mouo)
            if schools:
                items.add(Item("municipal", directory.email(mouo), stage, schools))
        items.add(Item("escalation", COORDINATOR, stage, parties))
        items.add(Item("authority", AUTHORITY, stage, parties))
    return items


def test_tomsk_interview_season(tmp_path: Path, mailbox: RecordingHandler) -> None:
    """Row «Формирование комиссии…», due 31.01.2024 24:00 (two weeks before 14.02.2024): per
    school; the schools' assignment (due a day earlier) was done on time."""
    out, directory = _season_db(tmp_path, TOMSK)
    season = Season(
        plan=TOMSK,
        session="2024-02-14",
        row="form_commissions",
        stage="form_commissions",
        occurrence=0,
        on_time=("7001001",),
        between=("7002002",),
        late=("7002001",),
        never=("7001002",),
        setup=tuple(("assign_students", school) for school in directory.schools),
    )
    play(season, out, directory, mailbox)


# --- the whole Kuzbass road map ------------------------------------------------------------


def test_kuzbass_road_map_is_watched_in_digests(
    loaded: Callable[[str], tuple[Path, Performers]], mailbox: RecordingHandler
) -> None:
    out, directory = loaded(KUZBASS)
    now = _instant("2024-02-15T10:00+07:00")
    before = len(mailbox.envelopes)
    result = run_watchdog(out, KUZBASS, None, now)
    letters = letters_of(mailbox.envelopes[before:])
    per = Counter((address, letter.kind) for letter in letters for address in letter.to)
    assert per
    assert max(per.values()) == 1, per  # one letter per kind for each recipient
    assert len(letters) <= 5 * (len(directory.schools) + len(directory.mouos) + 2)
    assert result["due"] > 5 * len(letters)  # hundreds of notices, a few dozen letters
    assert sum(result["sent"].values()) == result["due"]
    assert result["no_address"] == 0
    assert any(letter.digest for letter in letters)
    addresses = {address for letter in letters for address in letter.to}
    assert {COORDINATOR, AUTHORITY} <= addresses
    assert {directory.email(p) for p in (*directory.schools, *directory.mouos)} <= addresses
    for letter in letters:
        assert not [n for n in directory.names if n in letter.body]
    with database(out) as session:
        scope = load_scope(session, KUZBASS)
        cells = board_cells(session, scope, now)
    assert {c.row.plan_stage_id for c in cells} == {r.plan_stage_id for r in scope.rows}
    _stored_match_board(out, cells)
