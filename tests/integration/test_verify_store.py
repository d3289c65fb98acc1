"""The verification queue in the regional database (tasks/adapters/verify_store.py), on SQLite
and PostgreSQL: what each operator may take next, decisions and their audit log, groups of
items sharing a recognised value, the coordinator's closure, items for rejected pages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tasks.adapters.database import Database
from tasks.adapters.models import (
    AuditLog,
    Campaign,
    ExamSession,
    Page,
    RecognitionResult,
    Region,
    VerificationItem,
)
from tasks.adapters.verify_store import (
    apply_decision,
    apply_scan_answers,
    close_queue,
    group_of,
    next_items,
    open_rejected_page_items,
    queue_state,
)
from tasks.domain.verify import VerifyError

NOW = datetime(2017, 12, 8, 10, 0, tzinfo=UTC)
_keys = count(1)


@dataclass(frozen=True, slots=True)
class Queue:
    session: Session
    exam_id: int

    def add(self, kind: str = "scan", field: str | None = "topic_number", **values: object) -> int:
        """One verification item of the exam session (no work, no page); returns its id."""
        item = VerificationItem(
            key=f"test:{next(_keys)}",
            session_id=self.exam_id,
            kind=kind,
            field=field,
            reason="проверка",
            opened_at=NOW,
            **values,
        )
        self.session.add(item)
        self.session.flush()
        return item.id

    def ids(self, login: str, role: str = "operator", after: int = 0, limit: int = 50) -> list[int]:
        views = next_items(self.session, self.exam_id, login, role, limit=limit, after=after)
        return [v.id for v in views]

    def item(self, item_id: int) -> VerificationItem:
        found = self.session.get(VerificationItem, item_id)
        assert found is not None
        return found

    def audit(self, action: str) -> list[AuditLog]:
        return list(
            self.session.scalars(
                select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
            )
        )


def _exam(session: Session, code: str) -> int:
    campaign = Campaign(
        code=f"test-{code}", procedure="ИС-11", school_year="2017/18", region_code="42", title="т"
    )
    exam = ExamSession(campaign=campaign, code=code, ordinal=1, exam_date=date(2017, 12, 6))
    session.add_all([campaign, exam])
    session.flush()
    return exam.id


@pytest.fixture
def queue(database: Database) -> Iterator[Queue]:
    with database.session_factory() as session:
        session.add(Region(code="42", name="Кемеровская область", timezone="Asia/Novokuznetsk"))
        session.flush()
        yield Queue(session, _exam(session, "2017-12-06"))
        session.rollback()


# --- next_items -------------------------------------------------------------------------------


def test_an_operator_gets_open_items_in_id_order_and_only_a_senior_gets_disputed_and_page_items(
    queue: Queue,
) -> None:
    first = queue.add()
    disputed = queue.add("result", "k1", status="disputed", double_check=True)
    page = queue.add("page", None)
    second = queue.add("record", "flag_removed")
    queue.add(status="resolved")
    assert queue.ids("anna") == [first, second]
    assert queue.ids("vera", "senior") == [first, disputed, page, second]


def test_a_second_check_is_hidden_from_its_first_operator_and_shown_to_another(
    queue: Queue,
) -> None:
    item = queue.add("result", "k2", status="second", double_check=True, first_by="anna")
    assert queue.ids("anna") == []
    assert queue.ids("anna", "senior") == []
    assert queue.ids("boris") == [item]


def test_items_after_a_skipped_one_come_first_and_the_queue_wraps_to_the_start(
    queue: Queue,
) -> None:
    a, b, c, d = (queue.add() for _ in range(4))
    assert queue.ids("anna", after=b) == [c, d, a, b]
    assert queue.ids("anna", after=b, limit=3) == [c, d, a]
    assert queue.ids("anna", after=a, limit=2) == [b, c]
    assert queue.ids("anna", after=d) == [a, b, c, d]


# --- apply_decision ---------------------------------------------------------------------------


def test_a_single_check_decision_resolves_the_item_and_is_audit_logged(queue: Queue) -> None:
    item_id = queue.add(field="topic_number", recognised_value="12")
    with pytest.raises(ValueError, match="допустимы только цифры"):
        apply_decision(queue.session, item_id, "anna", "operator", "12a", NOW)
    with pytest.raises(VerifyError, match="элемент не найден"):
        apply_decision(queue.session, item_id + 100, "anna", "operator", "12", NOW)
    assert apply_decision(queue.session, item_id, "anna", "operator", " 123 ", NOW) == "resolved"
    item = queue.item(item_id)
    assert (item.status, item.resolved_value, item.resolved_by) == ("resolved", "123", "anna")
    assert item.resolved_at == NOW
    queue.session.flush()
    [log] = queue.audit("verify")  # the refused answers left no trace
    assert (log.actor, log.entity, log.entity_id, log.at) == (
        "anna",
        "verification_item",
        str(item_id),
        NOW,
    )
    assert log.old == {"status": "open", "value": "12"}
    assert log.new == {"status": "resolved", "value": "123"}


def test_a_double_check_item_is_resolved_by_two_different_operators_who_agree(
    queue: Queue,
) -> None:
    item_id = queue.add("result", "k1", double_check=True, recognised_value="незачет")
    later = NOW + timedelta(minutes=5)
    assert apply_decision(queue.session, item_id, "anna", "operator", "1", NOW) == "second"
    item = queue.item(item_id)
    assert (item.first_value, item.first_by, item.first_at) == ("зачет", "anna", NOW)
    assert item.resolved_value is None
    with pytest.raises(VerifyError, match="другой оператор"):
        apply_decision(queue.session, item_id, "anna", "operator", "1", later)
    assert apply_decision(queue.session, item_id, "boris", "operator", "1", later) == "resolved"
    item = queue.item(item_id)
    assert (item.resolved_value, item.resolved_by, item.resolved_at) == ("зачет", "boris", later)
    queue.session.flush()
    logs = queue.audit("verify")
    assert [(a.actor, a.old, a.new) for a in logs] == [
        ("anna", {"status": "open", "value": "незачет"}, {"status": "second", "value": "зачет"}),
        (
            "boris",
            {"status": "second", "value": "незачет"},
            {"status": "resolved", "value": "зачет"},
        ),
    ]
    with pytest.raises(VerifyError, match="элемент уже закрыт"):
        apply_decision(queue.session, item_id, "vera", "senior", "0", later)


def test_operators_who_disagree_leave_the_item_to_a_senior(queue: Queue) -> None:
    item_id = queue.add("result", "overall", double_check=True)
    apply_decision(queue.session, item_id, "anna", "operator", "1", NOW)
    assert apply_decision(queue.session, item_id, "boris", "operator", "0", NOW) == "disputed"
    assert queue.item(item_id).resolved_value is None
    with pytest.raises(VerifyError, match="старший верификатор"):
        apply_decision(queue.session, item_id, "gleb", "operator", "1", NOW)
    assert apply_decision(queue.session, item_id, "vera", "senior", "0", NOW) == "resolved"
    assert queue.item(item_id).resolved_value == "незачет"


# --- groups, queue state and closure ----------------------------------------------------------


def test_a_group_is_the_items_this_operator_may_decide_sharing_field_and_recognised_value(
    queue: Queue,
) -> None:
    twelve = [queue.add(field="topic_number", recognised_value="12") for _ in range(2)]
    queue.add(field="topic_number", recognised_value="13")
    queue.add(field="answer_blanks", recognised_value="12")
    queue.add(field="topic_number", recognised_value="12", status="resolved")
    mine = queue.add(field="topic_number", recognised_value="12", status="second", first_by="anna")
    unread = [queue.add(field="topic_number") for _ in range(2)]
    group = group_of(queue.session, queue.exam_id, "topic_number", "12", "anna", "operator")
    assert [v.id for v in group] == twelve
    assert {v.recognised for v in group} == {"12"}
    group = group_of(queue.session, queue.exam_id, "topic_number", "12", "boris", "operator")
    assert [v.id for v in group] == [*twelve, mine]
    group = group_of(queue.session, queue.exam_id, "topic_number", None, "anna", "operator")
    assert [v.id for v in group] == unread


def test_the_queue_counts_open_second_and_disputed_items_and_is_closed_once(
    queue: Queue,
) -> None:
    for status in ("open", "second", "disputed", "resolved", "resolved"):
        queue.add(status=status)
    other = _exam(queue.session, "2018-02-07")
    assert queue_state(queue.session, queue.exam_id) == (3, False)
    assert close_queue(queue.session, queue.exam_id, "coordinator", "всё проверено", NOW)
    queue.session.flush()
    assert not close_queue(queue.session, queue.exam_id, "coordinator", "ещё раз", NOW)
    queue.session.flush()
    assert queue_state(queue.session, queue.exam_id) == (3, True)
    assert queue_state(queue.session, other) == (0, False)
    [log] = queue.audit("close_queue")
    assert (log.actor, log.entity_id, log.new) == (
        "coordinator",
        str(queue.exam_id),
        {"note": "всё проверено"},
    )


# --- rejected pages ---------------------------------------------------------------------------


def test_one_page_item_is_opened_per_rejected_page_and_opening_again_adds_none(
    queue: Queue,
) -> None:
    other = _exam(queue.session, "2018-02-07")

    def page(n: int, status: str, session_id: int | None = queue.exam_id) -> Page:
        return Page(
            content_hash=f"{n:064x}",
            source_file="scan-001.pdf",
            source_index=n,
            status=status,
            reason="не найдены угловые метки" if status == "rejected" else None,
            session_id=session_id,
        )

    pages = [page(1, "rejected"), page(2, "recognised"), page(3, "rejected")]
    pages.append(page(4, "rejected", other))
    queue.session.add_all(pages)
    queue.session.flush()
    assert open_rejected_page_items(queue.session, queue.exam_id, NOW) == 2
    queue.session.flush()
    items = list(queue.session.scalars(select(VerificationItem).order_by(VerificationItem.page_id)))
    assert [(i.kind, i.page_id, i.status, i.field) for i in items] == [
        ("page", pages[0].id, "open", None),
        ("page", pages[2].id, "open", None),
    ]
    assert items[0].reason == "страница отклонена при распознавании: не найдены угловые метки"
    assert open_rejected_page_items(queue.session, queue.exam_id, NOW) == 0
    queue.session.flush()
    assert queue.session.scalar(select(func.count()).select_from(VerificationItem)) == 2
    assert queue.ids("vera", "senior") == [i.id for i in items]
    assert queue.ids("anna") == []


def test_answers_to_scan_items_become_verified_readings_and_repeating_changes_nothing(
    queue: Queue,
) -> None:
    page = Page(
        content_hash="f" * 64,
        source_file="scan-9.jpg",
        status="needs_verification",
        session_id=queue.exam_id,
    )
    queue.session.add(page)
    queue.session.flush()
    readings = {
        name: RecognitionResult(
            page_id=page.id, field=name, value=value, confidence=0.4, status="needs_verification"
        )
        for name, value in (
            ("topic_number", "1?2"),
            ("k3_pass", "uncertain"),
            ("answer_blanks", "0?"),
        )
    }
    queue.session.add_all(readings.values())
    answered = {"topic_number": "102", "k3_pass": "1", "answer_blanks": "0*"}
    for name, answer in answered.items():
        queue.add(field=name, page_id=page.id, status="resolved", resolved_value=answer)
    queue.add(field="topic_number", page_id=page.id, status="open")  # not decided: not applied
    queue.session.flush()
    assert apply_scan_answers(queue.session, queue.exam_id) == 2
    queue.session.flush()
    assert (readings["topic_number"].value, readings["topic_number"].status) == ("102", "verified")
    assert (readings["k3_pass"].value, readings["k3_pass"].status) == ("marked", "verified")
    # a cell typed «*» is still unread: the reading stays for what it was
    assert readings["answer_blanks"].value == "0?"
    assert apply_scan_answers(queue.session, queue.exam_id) == 0
