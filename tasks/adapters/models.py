"""The regional database (РБД): SQLAlchemy 2 models. Alembic migrations follow these models.

Every instant is stored as UTC and read back timezone-aware (`UtcDateTime`); naive datetimes
are refused. Natural keys carry unique constraints so that re-running a stage cannot duplicate.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "AuditLog",
    "Base",
    "Campaign",
    "Discrepancy",
    "Evaluation",
    "ExamSession",
    "FederalUpload",
    "Mouo",
    "Notification",
    "Page",
    "Participant",
    "PlanStage",
    "RecognitionResult",
    "Region",
    "Registration",
    "Result",
    "Room",
    "RowMark",
    "RowState",
    "School",
    "StageCompletion",
    "Submission",
    "SubmissionRow",
    "Venue",
    "VerificationItem",
    "Work",
]


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware instants on every backend: stored in UTC, returned with tzinfo=UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: every stored instant must be aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


def _now() -> datetime:
    return datetime.now(UTC)


class _Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now, onupdate=_now)


# --- organisation ------------------------------------------------------------------------------


class Region(Base):
    __tablename__ = "region"
    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))  # IANA zone

    mouos: Mapped[list[Mouo]] = relationship(back_populates="region")


class Mouo(Base):
    """Municipal education authority (МОУО)."""

    __tablename__ = "mouo"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)  # '42-05'
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    name: Mapped[str] = mapped_column(String(300))
    emails: Mapped[list[str]] = mapped_column(default=list)

    region: Mapped[Region] = relationship(back_populates="mouos")
    schools: Mapped[list[School]] = relationship(back_populates="mouo")


class School(Base):
    """Educational organisation (ОО). `timezone` overrides the region's where it spans zones."""

    __tablename__ = "school"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(7), unique=True)
    mouo_id: Mapped[int] = mapped_column(ForeignKey("mouo.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20), default="school")  # school | spo | closed
    timezone: Mapped[str | None] = mapped_column(String(64))
    emails: Mapped[list[str]] = mapped_column(default=list)
    planned_participants: Mapped[int | None]

    mouo: Mapped[Mouo] = relationship(back_populates="schools")


class Venue(Base):
    """Place of the exam (место проведения); usually a school's own building."""

    __tablename__ = "venue"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(String(500))


class Room(Base):
    __tablename__ = "room"
    __table_args__ = (
        UniqueConstraint("venue_id", "number"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id"), index=True)
    number: Mapped[str] = mapped_column(String(16))
    capacity: Mapped[int]


# --- people ------------------------------------------------------------------------------------


class Participant(_Timestamps, Base):
    """A person in the regional database, with the personal data of DOMAIN.md §4.

    Never log or publish these columns; refer to a participant by `id` or work code.
    """

    __tablename__ = "participant"
    __table_args__ = (
        UniqueConstraint("document_type", "document_series", "document_number"),
        CheckConstraint("sex IN ('М', 'Ж')", name="sex"),
        CheckConstraint("form IN ('essay', 'exposition')", name="form"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    snils: Mapped[str | None] = mapped_column(String(11), unique=True)
    surname: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    patronymic: Mapped[str | None] = mapped_column(String(100))
    sex: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[date] = mapped_column(Date)
    document_type: Mapped[str] = mapped_column(String(32))
    document_series: Mapped[str] = mapped_column(String(20), default="")
    document_number: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(32))
    mouo_id: Mapped[int] = mapped_column(ForeignKey("mouo.id"), index=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id"), index=True)
    class_name: Mapped[str | None] = mapped_column(String(8))
    form: Mapped[str] = mapped_column(String(12), default="essay")
    oral: Mapped[bool] = mapped_column(Boolean, default=False)
    ovz: Mapped[bool] = mapped_column(Boolean, default=False)
    ovz_document: Mapped[str | None] = mapped_column(String(200))


# --- campaigns and plan ------------------------------------------------------------------------


class Campaign(Base):
    """One plan-schedule run: a procedure in a region for a school year."""

    __tablename__ = "campaign"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # the plan id
    procedure: Mapped[str] = mapped_column(String(8))  # ИС-11 | ИС-9
    school_year: Mapped[str] = mapped_column(String(7))
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    title: Mapped[str] = mapped_column(Text)

    sessions: Mapped[list[ExamSession]] = relationship(back_populates="campaign")


class ExamSession(Base):
    __tablename__ = "exam_session"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    code: Mapped[str] = mapped_column(String(32))
    ordinal: Mapped[int]  # 1, 2, 3 within the school year
    exam_date: Mapped[date] = mapped_column(Date)
    label: Mapped[str] = mapped_column(String(100), default="")

    campaign: Mapped[Campaign] = relationship(back_populates="sessions")


class PlanStage(Base):
    """A plan row resolved for one session: the instants the scheduler and watchdog use."""

    __tablename__ = "plan_stage"
    __table_args__ = (UniqueConstraint("session_id", "stage_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_session.id"))
    stage_key: Mapped[str] = mapped_column(String(64))
    row: Mapped[str | None] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    automated_stage: Mapped[str | None] = mapped_column(String(16))
    zone: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    responsible: Mapped[list[str]] = mapped_column(default=list)
    ambiguous: Mapped[bool] = mapped_column(Boolean, default=False)
    # The board's fields (issue 17): the source's section and «Сроки» words, the performers
    # as the source names them, the predecessors, the reference of an unresolved external
    # term, and every occurrence as [start, due] ISO instants (one for a plain row).
    section: Mapped[str | None] = mapped_column(Text)
    term: Mapped[str | None] = mapped_column(Text)
    performers: Mapped[list[str]] = mapped_column(default=list)
    after: Mapped[list[str]] = mapped_column(default=list)
    external: Mapped[str | None] = mapped_column(Text)
    windows: Mapped[list[Any]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)  # the row's place in the plan
    # A row the plan no longer has (a corrected plan removed or renamed it, or dropped its
    # session): kept for what refers to it, off the board and the watchdog.
    retired: Mapped[bool] = mapped_column(Boolean, default=False)


class StageCompletion(Base):
    """A completion record: this party finished this plan stage (one row per party)."""

    __tablename__ = "stage_completion"
    __table_args__ = (UniqueConstraint("plan_stage_id", "party"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_stage_id: Mapped[int] = mapped_column(ForeignKey("plan_stage.id"))
    party: Mapped[str] = mapped_column(String(32))  # 'rcoi', a МОУО code, a school code
    completed_at: Mapped[datetime]
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RowMark(Base):
    """A plan row marked done by its performer or the coordinator (a manual row: people's work
    the system cannot see). Reopening deletes the mark; the audit log keeps both."""

    __tablename__ = "row_mark"
    __table_args__ = (UniqueConstraint("plan_stage_id", "party", "occurrence"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_stage_id: Mapped[int] = mapped_column(ForeignKey("plan_stage.id"), index=True)
    party: Mapped[str] = mapped_column(String(32))  # 'rcoi', a МОУО code, a school code, ...
    occurrence: Mapped[int] = mapped_column(Integer, default=0)  # 0-based, per window
    done_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")


class RowState(Base):
    """The board's stored state of a plan row for one performer and occurrence, as the last
    watchdog or board refresh computed it (не начат / идёт / ожидание / выполнен / просрочен)."""

    __tablename__ = "row_state"
    __table_args__ = (UniqueConstraint("plan_stage_id", "party", "occurrence"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_stage_id: Mapped[int] = mapped_column(ForeignKey("plan_stage.id"), index=True)
    party: Mapped[str] = mapped_column(String(32))
    occurrence: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    waiting_on: Mapped[str] = mapped_column(String(200), default="")
    due_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    computed_at: Mapped[datetime]


class Registration(Base):
    """A participant registered for a session; `attempt` counts within the school year."""

    __tablename__ = "registration"
    __table_args__ = (
        UniqueConstraint("participant_id", "session_id"),
        CheckConstraint("attempt BETWEEN 1 AND 3", name="attempt"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_session.id"), index=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id"), index=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"))
    attempt: Mapped[int] = mapped_column(default=1)
    form: Mapped[str] = mapped_column(String(12), default="essay")
    oral: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="registered")
    registered_at: Mapped[datetime] = mapped_column(default=_now)


# --- collection from МОУО ----------------------------------------------------------------------


class Submission(Base):
    """A file a МОУО sent for a session, identified by its content hash. `status`: accepted
    (rows checked one by one), rejected (the file could not be read at all), superseded (an
    accepted file a later accepted one replaced; kept as history)."""

    __tablename__ = "submission"
    __table_args__ = (UniqueConstraint("session_id", "mouo_id", "content_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_session.id"), index=True)
    mouo_id: Mapped[int] = mapped_column(ForeignKey("mouo.id"), index=True)
    file_name: Mapped[str] = mapped_column(Text)
    stored_path: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    file_format: Mapped[str | None] = mapped_column(String(8))
    encoding: Mapped[str | None] = mapped_column(String(16))
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    rows_read: Mapped[int] = mapped_column(default=0)
    rows_accepted: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    rows_warned: Mapped[int] = mapped_column(default=0)


class SubmissionRow(Base):
    """One row of a submission as received (normalised values) with its verdict and problems."""

    __tablename__ = "submission_row"
    __table_args__ = (UniqueConstraint("submission_id", "row_number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    row_number: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))  # accepted | rejected
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Discrepancy(Base):
    """A finding of reconciliation. Critical ones block printing until a coordinator resolves
    or accepts them (audit-logged); one that disappears on a later reconciliation is closed
    as `gone`. Messages name МОУО, rows and schools, never a person."""

    __tablename__ = "discrepancy"
    __table_args__ = (UniqueConstraint("session_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_session.id"), index=True)
    key: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))  # critical | warning
    mouo_code: Mapped[str | None] = mapped_column(String(8))
    school_code: Mapped[str | None] = mapped_column(String(7))
    message: Mapped[str] = mapped_column(Text)
    rows: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|resolved|accepted|gone
    found_at: Mapped[datetime] = mapped_column(default=_now)
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)


# --- kits, pages, recognition ------------------------------------------------------------------


class Work(Base):
    """A printed code with its blanks: a participant's kit (`kit`), a school's reserve kit
    (`reserve`, no registration), or a room's additional answer blank (`additional`, linked to
    a work by the code written on it). Codes share one space, so none is ever issued twice."""

    __tablename__ = "work"
    __table_args__ = (
        CheckConstraint("kind IN ('kit', 'reserve', 'additional')", name="kind"),
        UniqueConstraint("session_id", "school_id", "kind", "sequence"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    work_code: Mapped[str] = mapped_column(String(12), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_session.id"), index=True)
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registration.id"), unique=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12), default="kit", server_default="kit")
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"))
    # Reserve kits and additional blanks: their number within the school (kind) or room, so
    # that a re-print reuses them; kits: null (the registration is their key).
    sequence: Mapped[int | None]
    reserve: Mapped[bool] = mapped_column(Boolean, default=False)
    printed_at: Mapped[datetime | None]
    not_finished: Mapped[bool] = mapped_column(Boolean, default=False)  # «Не закончил», ИС-08
    removed: Mapped[bool] = mapped_column(Boolean, default=False)  # «Удален», ИС-09
    oral: Mapped[bool] = mapped_column(Boolean, default=False)  # «В устной форме»
    answer_blanks: Mapped[int | None]  # «Количество бланков записи»
    topic_number: Mapped[str | None] = mapped_column(String(3))


class Page(Base):
    """A scanned page, identified by the content hash of its file and its frame in the file
    (`content_hash` is the recognition record's `page_id`); `page_key` names the blank's page
    as its QR does (`answer-1:<code>`), null when the page could not be identified."""

    __tablename__ = "page"
    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("exam_session.id"), index=True)
    page_key: Mapped[str | None] = mapped_column(String(40))
    work_id: Mapped[int | None] = mapped_column(ForeignKey("work.id"), index=True)
    source_file: Mapped[str] = mapped_column(Text)
    source_index: Mapped[int] = mapped_column(default=0)
    blank_type: Mapped[str | None] = mapped_column(String(32))
    page_number: Mapped[int | None]
    image_path: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24), default="received")
    reason: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=_now)


class RecognitionResult(Base):
    __tablename__ = "recognition_result"
    __table_args__ = (UniqueConstraint("page_id", "field"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("page.id"))
    field: Mapped[str] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Double)  # as migration 0005 made it
    status: Mapped[str] = mapped_column(String(24))


class VerificationItem(Base):
    """Something a person must decide; `key` makes re-running recognition idempotent."""

    __tablename__ = "verification_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_session.id"), index=True)
    page_id: Mapped[int | None] = mapped_column(ForeignKey("page.id"))
    work_id: Mapped[int | None] = mapped_column(ForeignKey("work.id"))
    kind: Mapped[str] = mapped_column(String(32))
    field: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    recognised_value: Mapped[str | None] = mapped_column(String(64))
    resolved_value: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_at: Mapped[datetime] = mapped_column(default=_now)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    # Result fields are verified twice: the first operator's decision waits here for a second,
    # different operator; a disagreement goes to a senior verifier (status `disputed`).
    double_check: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    first_value: Mapped[str | None] = mapped_column(String(64))
    first_by: Mapped[str | None] = mapped_column(String(64))
    first_at: Mapped[datetime | None]
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # codes and marks only


class QueueClosure(Base):
    """The coordinator closed a session's verification queue (what is still open stays so)."""

    __tablename__ = "queue_closure"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_session.id"), unique=True)
    closed_by: Mapped[str] = mapped_column(String(64))
    closed_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)


class Operator(Base):
    """A person who signs in to the verification pages: a password hash (scrypt), a role."""

    __tablename__ = "operator"
    __table_args__ = (
        CheckConstraint("role IN ('operator', 'senior', 'coordinator')", name="role"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class WebSession(Base):
    """A signed-in browser: only the token's SHA-256 is stored; it expires."""

    __tablename__ = "web_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operator.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


# --- exam day records and copies ---------------------------------------------------------------


class RoomRecord(Base):
    """A work's line of the room record sheet ИС-05 (attendance and the commission's flags)."""

    __tablename__ = "room_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_session.id"), index=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("work.id"), unique=True)
    attendance: Mapped[str] = mapped_column(String(12))  # present | absent
    not_finished: Mapped[bool] = mapped_column(Boolean, default=False)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    oral: Mapped[bool] = mapped_column(Boolean, default=False)
    answer_blanks: Mapped[int | None]
    additional_blanks: Mapped[str] = mapped_column(Text, default="")
    source_file: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]


class Expert(Base):
    """A member of a school's grading commission, by code (names stay with the school)."""

    __tablename__ = "expert"
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Assignment(Base):
    """Which expert grades a work: exactly one; the coordinator may reassign (audit-logged)."""

    __tablename__ = "assignment"
    id: Mapped[int] = mapped_column(primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("work.id"), unique=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("expert.id"), index=True)
    assigned_by: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime]


# --- grading and results -----------------------------------------------------------------------


class Evaluation(Base):
    """An expert's marks for a work, from a protocol or recognised on the original."""

    __tablename__ = "evaluation"
    __table_args__ = (UniqueConstraint("work_id", "source"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("work.id"))
    source: Mapped[str] = mapped_column(String(16))  # protocol | original
    expert_code: Mapped[str | None] = mapped_column(String(32))
    requirement_1: Mapped[bool | None]
    requirement_2: Mapped[bool | None]
    k1: Mapped[bool | None]
    k2: Mapped[bool | None]
    k3: Mapped[bool | None]
    k4: Mapped[bool | None]
    k5: Mapped[bool | None]
    overall: Mapped[bool | None]
    recorded_at: Mapped[datetime] = mapped_column(default=_now)


class Result(Base):
    __tablename__ = "result"
    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), unique=True)
    passed: Mapped[bool | None]  # зачет / незачет; None: not graded (flagged work)
    outcome: Mapped[str] = mapped_column(String(24))
    work_id: Mapped[int | None] = mapped_column(ForeignKey("work.id"))
    marks: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # group → зачет/незачет
    verified_at: Mapped[datetime | None]
    annulled: Mapped[bool] = mapped_column(Boolean, default=False)


# --- outbound ----------------------------------------------------------------------------------


class FederalUpload(Base):
    """One federal package of a session and where it went: `package_sha256` is the manifest's
    digest, so a re-run of an unchanged package finds its row and sends nothing twice."""

    __tablename__ = "federal_upload"
    __table_args__ = (UniqueConstraint("session_id", "package_sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_session.id"))
    package_sha256: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(Text)
    # pending | uploaded | accepted | rejected (the receipt's verdict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    uploaded_at: Mapped[datetime | None]
    receipt_at: Mapped[datetime | None]
    package_name: Mapped[str | None] = mapped_column(String(96))
    files: Mapped[int | None]
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # codes and counts only


class Acknowledgement(Base):
    """A document sent to a party that must confirm receipt (the results lists to a МОУО):
    the mail carries a one-time link whose token is stored as a SHA-256."""

    __tablename__ = "acknowledgement"
    __table_args__ = (UniqueConstraint("session_id", "party", "document"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_session.id"), index=True)
    party: Mapped[str] = mapped_column(String(32))  # a МОУО code
    document: Mapped[str] = mapped_column(String(32))  # results
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    content_sha256: Mapped[str] = mapped_column(String(64))  # what was sent
    sent_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]


class LookupAttempt(Base):
    """One query of the participants' results lookup, for its rate limit: the client is kept
    as a keyed hash, never its address, and never what was asked."""

    __tablename__ = "lookup_attempt"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_key: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(index=True)


class StageLock(Base):
    """The key that keeps one stage of one session from running twice at once: a run takes
    the row (unique session + stage) and gives it back; an expired row may be taken over."""

    __tablename__ = "stage_lock"
    __table_args__ = (UniqueConstraint("session_id", "stage"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_session.id"))
    stage: Mapped[str] = mapped_column(String(16))
    holder: Mapped[str] = mapped_column(String(64))  # a flow run id or a process
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class Notification(Base):
    """A message sent once: `dedup_key` (party, deadline, kind) guards against repeats."""

    __tablename__ = "notification"
    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # reminder | alert | escalation | report
    channel: Mapped[str] = mapped_column(String(16))  # smtp | outbox
    recipient: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(Text)
    plan_stage_id: Mapped[int | None] = mapped_column(ForeignKey("plan_stage.id"))
    sent_at: Mapped[datetime]


class AuditLog(Base):
    """Who changed what and when (old → new). Values hold ids, never personal data."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=_now)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    old: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    new: Mapped[dict[str, Any] | None] = mapped_column(JSON)
