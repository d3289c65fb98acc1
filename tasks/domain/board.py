"""The plan-schedule board: the state of every plan row, per performer and occurrence.

Pure: the rows of a plan (as stored), who performs each one, what is done, which stages run
now, and the clock in; one cell per (row, performer, occurrence) out, with its state — не
начат / идёт / ожидание (with the reason and whom it waits for) / выполнен / просрочен — and
the watchdog's checks derived from the same cells, so that the board and the alerts never
disagree. Texts are Russian (the coordinator reads them) and name stages, codes and bodies,
never people.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "AUTOMATED_PARTY",
    "KIND_RU",
    "OPEN_BEFORE_DUE",
    "STATE_RU",
    "BoardRow",
    "Cell",
    "Directory",
    "Performer",
    "RowStatus",
    "cells_of",
    "overall",
    "performers_of",
]


class RowStatus(StrEnum):
    NOT_STARTED = "not_started"
    RUNNING = "running"
    WAITING = "waiting"
    DONE = "done"
    LATE = "late"


STATE_RU: Mapping[RowStatus, str] = {
    RowStatus.NOT_STARTED: "не начат",
    RowStatus.RUNNING: "идёт",
    RowStatus.WAITING: "ожидание",
    RowStatus.DONE: "выполнен",
    RowStatus.LATE: "просрочен",
}

# Who a kind of performer is, as the board names it.
KIND_RU: Mapping[str, str] = {
    "rcoi": "РЦОИ",
    "mouo": "МОУО",
    "school": "ОО",
    "commission": "комиссия ОО",
    "authority": "орган управления образованием",
    "fct": "ФЦТ",
    "rosobrnadzor": "Рособрнадзор",
    "other": "другая организация",
}

# An automated stage is done when the stage itself says so, for one kind of performer (the
# watchdog's completion checks): collect per МОУО, grade per school, inform per МОУО (its
# acknowledgement), the RCOI's own stages once. A row of such a stage whose plan names another
# performer (Tomsk's schools print protocols) is people's work: marked by hand.
AUTOMATED_PARTY: Mapping[str, str] = {
    "collect": "mouo",
    "reconcile": "rcoi",
    "print": "rcoi",
    "publish": "rcoi",
    # complete once every expected page of the session's works is received (no page missing)
    "scan": "rcoi",
    # per school: complete once every work it must grade has an accepted protocol row
    "grade": "school",
    # complete once the federal centre's receipt accepted the package
    "upload": "rcoi",
    # per МОУО: complete once it acknowledged the results lists (the link in the mail)
    "inform": "mouo",
}


# A row with a deadline and no start («не позднее чем за две недели до проведения») is under
# way from two weeks before its deadline — the lead the plans themselves give most often — and
# not started before: months ahead it is nobody's work yet.
OPEN_BEFORE_DUE = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class BoardRow:
    """A plan row of one session as stored (`plan_stage`)."""

    plan_stage_id: int
    session_code: str
    stage_key: str
    row: str | None
    section: str | None
    title: str
    term: str | None
    automated: str | None  # the automated stage it binds to, if any
    responsible: tuple[str, ...]
    performers: tuple[str, ...]  # as the source names them
    zone: str
    windows: tuple[tuple[datetime | None, datetime | None], ...]  # (start, due) per occurrence
    after: tuple[str, ...] = ()
    external: str | None = None  # an unresolved reference («по графику ФЦТ»)
    position: int = 0

    @property
    def tracked_by_stage(self) -> bool:
        """Done when its automated stage records completion (not marked by hand)."""
        kind = AUTOMATED_PARTY.get(self.automated or "")
        return kind is not None and kind in self.responsible


@dataclass(frozen=True, slots=True)
class Performer:
    party: str  # 'rcoi', 'authority', a МОУО code, a school code; a kind when no directory
    kind: str  # rcoi | mouo | school | authority | fct | rosobrnadzor | other
    parent: str | None = None  # the МОУО of a school
    name: str = ""

    @property
    def label(self) -> str:
        if self.party == self.kind:  # the directory has none of them: the kind as one party
            return KIND_RU.get(self.kind, self.kind) + ("" if self.kind in _SINGLE else " (все)")
        return f"{KIND_RU.get(self.kind, self.kind)} {self.party}"


_SINGLE = {"rcoi", "authority", "fct", "rosobrnadzor", "other"}


@dataclass(frozen=True, slots=True)
class Directory:
    """The performers a region has: its МОУО and schools (each with its МОУО); the schools
    that hold a session (kits printed) for the rows graded per school."""

    mouos: tuple[Performer, ...] = ()
    schools: tuple[Performer, ...] = ()
    schools_by_session: Mapping[str, tuple[str, ...]] | None = None


def performers_of(row: BoardRow, directory: Directory) -> list[Performer]:
    """Who performs a row: one performer per МОУО or school where the row is theirs, else the
    single body. A row bound to an automated stage has the stage's kind of performer only."""
    kinds = [AUTOMATED_PARTY[row.automated or ""]] if row.tracked_by_stage else row.responsible
    if not kinds:  # a row that names nobody is the coordinator's to see done
        kinds = ("rcoi",)
    out: dict[str, Performer] = {}
    for kind in kinds:
        if kind == "mouo":
            found = list(directory.mouos) or [Performer("mouo", "mouo")]
        elif kind in ("school", "commission"):
            found = list(directory.schools) or [Performer("school", "school")]
            holding = set((directory.schools_by_session or {}).get(row.session_code, ()))
            if row.tracked_by_stage and holding:  # graded by the schools holding the session
                found = [school for school in found if school.party in holding]
        else:
            found = [Performer(kind, kind)]
        for performer in found:
            out.setdefault(performer.party, performer)
    return list(out.values())


@dataclass(frozen=True, slots=True)
class Cell:
    row: BoardRow
    performer: Performer
    occurrence: int
    start: datetime | None
    due: datetime | None
    state: RowStatus
    reason: str = ""
    waiting_on: str = ""
    done_at: datetime | None = None
    done_by: str = ""  # 'этап' for an automated completion, the actor of a mark otherwise

    def lateness(self, now: datetime) -> timedelta | None:
        """How late: past the due and not done (as of `now`), or done after the due."""
        if self.due is None:
            return None
        if self.state is RowStatus.LATE:
            return now - self.due
        if self.done_at is not None and self.done_at > self.due:
            return self.done_at - self.due
        return None


Done = Mapping[tuple[int, str, int], tuple[datetime, str]]  # (stage, party, occ) -> (at, by)


def cells_of(
    rows: Sequence[BoardRow],
    directory: Directory,
    done: Done,
    now: datetime,
    running: Iterable[tuple[str, str]] = (),
) -> list[Cell]:
    """Every cell of the rows at `now`. `running`: (session, automated stage) whose run holds
    its key now. Predecessors (`after`) are looked up in the same session, else by id (a
    year row before an exam row); a performer waits for its own part of a predecessor it
    performs too, for the whole predecessor otherwise."""
    if now.tzinfo is None:
        raise ValueError("the board clock must be timezone-aware")
    active = set(running)
    by_key = {(row.session_code, row.stage_key): row for row in rows}
    by_stage: dict[str, list[BoardRow]] = {}
    for row in rows:
        by_stage.setdefault(row.stage_key, []).append(row)
    performers = {row.plan_stage_id: performers_of(row, directory) for row in rows}

    def predecessor(row: BoardRow, key: str) -> BoardRow | None:
        """In the same session; else the one row of that id (a year row before an exam row)."""
        found = by_key.get((row.session_code, key))
        if found is None and len(by_stage.get(key, [])) == 1:
            found = by_stage[key][0]
        return found

    def done_by(row: BoardRow, party: str | None) -> bool:
        """Whether `party` has done every period of `row` — every performer, when the row is
        not that party's (a school waits for its own МОУО's row only where the МОУО is a
        performer of it; otherwise for the whole row)."""
        parties = [p.party for p in performers[row.plan_stage_id]]
        if party in parties:
            parties = [party]
        return bool(parties) and all(
            (row.plan_stage_id, who, n) in done for who in parties for n in range(len(row.windows))
        )

    cells = []
    for row in rows:
        befores = [found for key in row.after if (found := predecessor(row, key)) is not None]
        for performer in performers[row.plan_stage_id]:
            waits = [b for b in befores if not done_by(b, performer.party)]
            for number, (start, due) in enumerate(row.windows):
                mark = done.get((row.plan_stage_id, performer.party, number))
                cells.append(_cell(row, performer, number, start, due, mark, now, waits, active))
    return cells


def _cell(
    row: BoardRow,
    performer: Performer,
    number: int,
    start: datetime | None,
    due: datetime | None,
    mark: tuple[datetime, str] | None,
    now: datetime,
    waits: list[BoardRow],
    active: set[tuple[str, str]],
) -> Cell:
    def cell(state: RowStatus, reason: str = "", waiting_on: str = "") -> Cell:
        done_at, done_by = mark if mark else (None, "")
        return Cell(row, performer, number, start, due, state, reason, waiting_on, done_at, done_by)

    if mark is not None:
        return cell(RowStatus.DONE)
    if row.external is not None:
        return cell(
            RowStatus.WAITING,
            f"срок задан ссылкой «{row.external}»: даты ещё не внесены в план",
            _external_body(row),
        )
    if due is not None and now >= due:
        return cell(
            RowStatus.LATE, f"срок истёк, выполнение не зарегистрировано ({performer.label})"
        )
    opens = start if start is not None else (due - OPEN_BEFORE_DUE if due is not None else None)
    if opens is not None and now < opens:
        return cell(RowStatus.NOT_STARTED)
    if row.automated and (row.session_code, row.automated) in active:
        return cell(RowStatus.RUNNING, "идёт прогон этапа")
    if waits:
        first = waits[0]
        names = ", ".join(first.performers) or ", ".join(
            KIND_RU.get(kind, kind) for kind in first.responsible
        )
        return cell(
            RowStatus.WAITING,
            f"ждёт завершения этапа «{first.title}»"
            + (f" (строка {first.row})" if first.row else ""),
            names,
        )
    return cell(RowStatus.RUNNING)


def _external_body(row: BoardRow) -> str:
    bodies = [KIND_RU[k] for k in row.responsible if k in ("fct", "rosobrnadzor")]
    return ", ".join(bodies) or "внешний график"


_RANK = {
    RowStatus.LATE: 0,
    RowStatus.WAITING: 1,
    RowStatus.RUNNING: 2,
    RowStatus.NOT_STARTED: 3,
    RowStatus.DONE: 4,
}


def overall(states: Iterable[RowStatus]) -> RowStatus:
    """One state for a row of many performers or occurrences: the worst that needs someone
    (просрочен, ожидание, идёт); не начат when none has begun, выполнен when all are done; a
    mix of done and not yet begun is under way."""
    seen = set(states)
    if not seen:
        return RowStatus.NOT_STARTED
    worst = min(seen, key=_RANK.__getitem__)
    if worst is RowStatus.NOT_STARTED and RowStatus.DONE in seen:
        return RowStatus.RUNNING
    return worst
