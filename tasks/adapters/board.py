"""The plan-schedule board in the regional database: rows, performers, what is done, marks by
hand (audit-logged), the stored states, and the watchdog's checks from the same cells."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tasks.adapters.deadlines import DUE_AFTER_START
from tasks.adapters.models import (
    Acknowledgement,
    AuditLog,
    Campaign,
    ExamSession,
    Mouo,
    PlanStage,
    RowMark,
    RowState,
    School,
    StageCompletion,
    StageLock,
    Work,
)
from tasks.domain.board import BoardRow, Cell, Directory, Performer, RowStatus, cells_of
from tasks.domain.watchdog import Check
from tasks.errors import RegistryError

__all__ = [
    "BoardScope",
    "MarkOutcome",
    "board_cells",
    "checks_of",
    "current_occurrence",
    "load_scope",
    "mark_done",
    "reopen",
    "store_states",
]


@dataclass(frozen=True, slots=True)
class BoardScope:
    """A campaign's sessions on the board: its rows and its region's performers."""

    campaign_code: str
    region_code: str
    title: str
    procedure: str
    sessions: dict[int, str]  # id -> code, in plan order (the year session last)
    labels: dict[str, str]
    rows: list[BoardRow]
    directory: Directory


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _windows(stage: PlanStage) -> tuple[tuple[datetime | None, datetime | None], ...]:
    grace = DUE_AFTER_START.get(stage.automated_stage or "")
    if grace and stage.starts_at is not None:
        return ((stage.starts_at, stage.starts_at + grace),)
    stored = tuple((_instant(a), _instant(b)) for a, b in stage.windows or [])
    return stored or ((stage.starts_at, stage.due_at),)


def load_scope(
    session: Session, campaign_code: str, session_codes: Sequence[str] | None = None
) -> BoardScope:
    """The board's rows of a campaign (all its sessions, or those named)."""
    campaign = session.scalars(select(Campaign).where(Campaign.code == campaign_code)).first()
    if campaign is None:
        raise RegistryError(f"нет плана {campaign_code} в региональной базе: загрузите план")
    found = session.execute(
        select(ExamSession.id, ExamSession.code, ExamSession.label, ExamSession.ordinal)
        .where(ExamSession.campaign_id == campaign.id)
        .order_by(ExamSession.ordinal == 0, ExamSession.ordinal)
    ).all()
    wanted = [s for s in found if session_codes is None or s.code in session_codes]
    if session_codes is not None and len(wanted) != len(set(session_codes)):
        missing = sorted(set(session_codes) - {s.code for s in wanted})
        raise RegistryError(f"в плане {campaign_code} нет сроков: {', '.join(missing)}")
    ids = {s.id: s.code for s in wanted}
    stages = session.scalars(
        select(PlanStage)
        .where(PlanStage.session_id.in_(list(ids)), PlanStage.retired.is_(False))
        .order_by(PlanStage.position, PlanStage.id)
    ).all()
    if session_codes is None:  # a session the corrected plan dropped has no active row left
        active = {stage.session_id for stage in stages}
        wanted = [s for s in wanted if s.id in active]
        ids = {s.id: s.code for s in wanted}
    rows = [
        BoardRow(
            plan_stage_id=stage.id,
            session_code=ids[stage.session_id],
            stage_key=stage.stage_key,
            row=stage.row,
            section=stage.section,
            title=stage.title,
            term=stage.term,
            automated=stage.automated_stage,
            responsible=tuple(stage.responsible or ()),
            performers=tuple(stage.performers or ()),
            zone=stage.zone,
            windows=_windows(stage),
            after=tuple(stage.after or ()),
            external=stage.external,
            position=stage.position,
        )
        for stage in stages
    ]
    return BoardScope(
        campaign_code=campaign.code,
        region_code=campaign.region_code,
        title=campaign.title,
        procedure=campaign.procedure,
        sessions=ids,
        labels={s.code: s.label for s in wanted},
        rows=rows,
        directory=_directory(session, campaign.region_code, ids),
    )


def _directory(session: Session, region_code: str, sessions: dict[int, str]) -> Directory:
    mouos = session.execute(
        select(Mouo.code, Mouo.name).where(Mouo.region_code == region_code).order_by(Mouo.code)
    ).all()
    schools = session.execute(
        select(School.code, School.name, Mouo.code)
        .join(Mouo, School.mouo_id == Mouo.id)
        .where(Mouo.region_code == region_code)
        .order_by(School.code)
    ).all()
    holding: dict[str, set[str]] = {}
    for session_id, code in session.execute(
        select(Work.session_id, School.code)
        .join(School, Work.school_id == School.id)
        .where(Work.session_id.in_(list(sessions)), Work.kind == "kit")
        .distinct()
    ):
        holding.setdefault(sessions[session_id], set()).add(code)
    return Directory(
        mouos=tuple(Performer(code, "mouo", None, name) for code, name in mouos),
        schools=tuple(Performer(code, "school", mouo, name) for code, name, mouo in schools),
        schools_by_session={code: tuple(sorted(s)) for code, s in holding.items()},
    )


def _done(session: Session, scope: BoardScope) -> dict[tuple[int, str, int], tuple[datetime, str]]:
    """What is done: automated rows by their stage's completion (inform: the МОУО's
    acknowledgement), every row by a mark."""
    ids = [row.plan_stage_id for row in scope.rows]
    by_stage = {row.plan_stage_id: row for row in scope.rows}
    done: dict[tuple[int, str, int], tuple[datetime, str]] = {}
    for stage_id, party, at in session.execute(
        select(
            StageCompletion.plan_stage_id, StageCompletion.party, StageCompletion.completed_at
        ).where(StageCompletion.plan_stage_id.in_(ids))
    ):
        if by_stage[stage_id].tracked_by_stage:
            done[(stage_id, party, 0)] = (at, "этап")
    inform = [r for r in scope.rows if r.automated == "inform" and r.tracked_by_stage]
    if inform:
        session_ids = {code: id_ for id_, code in scope.sessions.items()}
        for row in inform:
            for party, at in session.execute(
                select(Acknowledgement.party, Acknowledgement.acknowledged_at).where(
                    Acknowledgement.session_id == session_ids[row.session_code],
                    Acknowledgement.document == "results",
                    Acknowledgement.acknowledged_at.is_not(None),
                )
            ):
                done.setdefault((row.plan_stage_id, party, 0), (at, "этап"))
    for mark in session.scalars(select(RowMark).where(RowMark.plan_stage_id.in_(ids))):
        done.setdefault(
            (mark.plan_stage_id, mark.party, mark.occurrence), (mark.done_at, mark.actor)
        )
    return done


def _running(session: Session, scope: BoardScope, now: datetime) -> set[tuple[str, str]]:
    return {
        (scope.sessions[session_id], stage)
        for session_id, stage in session.execute(
            select(StageLock.session_id, StageLock.stage).where(
                StageLock.session_id.in_(list(scope.sessions)), StageLock.expires_at > now
            )
        )
    }


def board_cells(session: Session, scope: BoardScope, now: datetime) -> list[Cell]:
    return cells_of(
        scope.rows, scope.directory, _done(session, scope), now, _running(session, scope, now)
    )


def checks_of(cells: Sequence[Cell]) -> list[Check]:
    """The watchdog's completion checks: every cell with a deadline (an external reference
    without dates has none yet: it waits on the board instead)."""
    return [
        Check(
            plan_stage_id=cell.row.plan_stage_id,
            session_code=cell.row.session_code,
            stage_key=cell.row.stage_key,
            title=cell.row.title,
            due=cell.due,
            zone=cell.row.zone,
            party=cell.performer.party,
            completed=cell.state is RowStatus.DONE,
            kind=cell.performer.kind,
            parent=cell.performer.parent,
            occurrence=cell.occurrence,
            row=cell.row.row,
        )
        for cell in cells
        if cell.due is not None
        and cell.row.external is None
        # a stage records completion per МОУО or school: with none in the directory, the kind
        # standing for them can never complete it — shown on the board, not chased by mail
        and not (cell.row.tracked_by_stage and cell.performer.party in ("mouo", "school"))
    ]


def store_states(session: Session, cells: Sequence[Cell], now: datetime) -> int:
    """Store every cell's state (the board's snapshot); returns how many changed."""
    ids = sorted({cell.row.plan_stage_id for cell in cells})
    present = {
        (state.plan_stage_id, state.party, state.occurrence): state
        for state in session.scalars(select(RowState).where(RowState.plan_stage_id.in_(ids)))
    }
    changed = 0
    for cell in cells:
        key = (cell.row.plan_stage_id, cell.performer.party, cell.occurrence)
        values = {
            "state": cell.state.value,
            "reason": cell.reason,
            "waiting_on": cell.waiting_on[:200],
            "due_at": cell.due,
            "done_at": cell.done_at,
        }
        stored = present.get(key)
        if stored is None:
            session.add(
                RowState(
                    plan_stage_id=key[0], party=key[1], occurrence=key[2], computed_at=now, **values
                )
            )
            changed += 1
        elif any(getattr(stored, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(stored, name, value)
            stored.computed_at = now
            changed += 1
    session.flush()
    return changed


@dataclass(frozen=True, slots=True)
class MarkOutcome:
    changed: bool
    message: str  # Russian, for the command line and the board


def _find_row(scope: BoardScope, row_ref: str, session_code: str) -> BoardRow:
    """A row by its stage id or its number in the source (unique within the session)."""
    candidates = [r for r in scope.rows if r.session_code == session_code]
    found = [r for r in candidates if r.stage_key == row_ref]
    if not found:
        found = [r for r in candidates if r.row == row_ref]
    if not found:
        raise RegistryError(f"в сроке {session_code} нет строки «{row_ref}»")
    if len(found) > 1:
        ids = ", ".join(r.stage_key for r in found)
        raise RegistryError(f"номер строки «{row_ref}» неоднозначен ({ids}): укажите id этапа")
    return found[0]


def _performer(scope: BoardScope, row: BoardRow, party: str | None) -> Performer:
    from tasks.domain.board import performers_of

    performers = performers_of(row, scope.directory)
    if party is None:
        if len(performers) == 1:
            return performers[0]
        kinds = sorted({p.kind for p in performers})
        raise RegistryError(
            f"у строки «{row.title}» несколько исполнителей ({', '.join(kinds)}): укажите "
            "--mouo КОД, --school КОД или --party (rcoi, authority, …)"
        )
    for performer in performers:
        if performer.party == party:
            return performer
    raise RegistryError(f"«{party}» не исполнитель строки «{row.title}»")


def current_occurrence(row: BoardRow, now: datetime, done: Sequence[int] = ()) -> int:
    """The period a mark without a number is for: the earliest begun and not done (a missed
    month first), else the latest begun (done already: marking twice changes nothing), else
    the first."""
    begun = [n for n, (start, _) in enumerate(row.windows) if start is None or start <= now]
    for number in begun:
        if number not in done:
            return number
    return begun[-1] if begun else 0


def mark_done(
    session: Session,
    scope: BoardScope,
    row_ref: str,
    session_code: str,
    party: str | None,
    actor: str,
    note: str,
    now: datetime,
    occurrence: int | None = None,
) -> MarkOutcome:
    """Mark a manual row done for one performer (and occurrence: the current one when not
    given). Marking it again changes nothing. Audit-logged (`plan_row.done`)."""
    row = _find_row(scope, row_ref, session_code)
    if row.tracked_by_stage:
        raise RegistryError(
            f"строка «{row.title}» выполняется этапом «{row.automated}»: отметку ставит сам этап"
        )
    performer = _performer(scope, row, party)
    marks = {
        m.occurrence: m
        for m in session.scalars(
            select(RowMark).where(
                RowMark.plan_stage_id == row.plan_stage_id, RowMark.party == performer.party
            )
        )
    }
    if occurrence is None:
        occurrence = current_occurrence(row, now, list(marks))
    if not 0 <= occurrence < len(row.windows):
        raise RegistryError(f"у строки «{row.title}» нет периода {occurrence + 1}")
    if occurrence in marks:
        return MarkOutcome(False, f"строка «{row.title}» уже отмечена выполненной")
    session.add(
        RowMark(
            plan_stage_id=row.plan_stage_id,
            party=performer.party,
            occurrence=occurrence,
            done_at=now,
            actor=actor,
            note=note,
        )
    )
    session.add(
        AuditLog(
            at=datetime.now(UTC),  # when it was written; the mark keeps the moment claimed
            actor=actor,
            action="plan_row.done",
            entity="plan_stage",
            entity_id=str(row.plan_stage_id),
            old={"party": performer.party, "occurrence": occurrence, "state": "open"},
            new={
                "party": performer.party,
                "occurrence": occurrence,
                "state": "done",
                "note": note,
                "done_at": now.isoformat(),
            },
        )
    )
    session.flush()
    return MarkOutcome(True, f"строка «{row.title}» отмечена выполненной ({performer.label})")


def reopen(
    session: Session,
    scope: BoardScope,
    row_ref: str,
    session_code: str,
    party: str | None,
    actor: str,
    reason: str,
    now: datetime,
    occurrence: int | None = None,
) -> MarkOutcome:
    """Take a mark back, with a reason (audit-logged, `plan_row.reopened`)."""
    if not reason.strip():
        raise RegistryError("укажите причину (--reason): строка открывается снова только с ней")
    row = _find_row(scope, row_ref, session_code)
    performer = _performer(scope, row, party)
    query = select(RowMark).where(
        RowMark.plan_stage_id == row.plan_stage_id, RowMark.party == performer.party
    )
    if occurrence is not None:
        query = query.where(RowMark.occurrence == occurrence)
    marks = session.scalars(query.order_by(RowMark.occurrence.desc())).all()
    if not marks:
        return MarkOutcome(False, f"строка «{row.title}» не отмечена выполненной")
    mark = marks[0]
    session.add(
        AuditLog(
            at=datetime.now(UTC),
            actor=actor,
            action="plan_row.reopened",
            entity="plan_stage",
            entity_id=str(row.plan_stage_id),
            old={"party": mark.party, "occurrence": mark.occurrence, "state": "done"},
            new={
                "party": mark.party,
                "occurrence": mark.occurrence,
                "state": "open",
                "note": reason,
            },
        )
    )
    session.execute(delete(RowMark).where(RowMark.id == mark.id))
    session.flush()
    return MarkOutcome(True, f"строка «{row.title}» открыта снова ({performer.label})")
