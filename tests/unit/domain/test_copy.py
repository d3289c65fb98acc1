"""The copy stage's rules (tasks/domain/copy.py): ИС-05 room record rows become records or
rejections with a Russian reason, each record's copy status, and the expert assignment (one
expert per work, load balanced, stable on a re-run, refused for a commission under three)."""

from __future__ import annotations

from collections import Counter

import pytest

from tasks.domain.copy import (
    COPY_STATUS_RU,
    MIN_COMMISSION,
    IssuedKit,
    RejectedRow,
    RoomRecord,
    assign_experts,
    copy_status,
    read_room_rows,
)
from tasks.domain.identifiers import make_work_code

SCHOOL = "4201001"
OTHER_SCHOOL = "4201002"
ESSAY, OVZ_KIT, SECOND, FOREIGN = (make_work_code("42", 2017, 1, n) for n in (1, 2, 3, 4))
NOT_ISSUED = make_work_code("42", 2017, 1, 99)
KITS = {
    ESSAY: IssuedKit(ESSAY, SCHOOL, "01", "essay", ovz=False),
    OVZ_KIT: IssuedKit(OVZ_KIT, SCHOOL, "02", "exposition", ovz=True),
    SECOND: IssuedKit(SECOND, SCHOOL, "01", "essay", ovz=False),
    FOREIGN: IssuedKit(FOREIGN, OTHER_SCHOOL, "01", "essay", ovz=False),
}


def row(work_code: str = ESSAY, **changes: str) -> dict[str, str]:
    """One ИС-05 line as the reader gives it: a present participant without flags."""
    base = {
        "work_code": work_code,
        "attendance": "явился",
        "not_finished": "",
        "removed": "",
        "oral": "",
        "answer_blanks": "2",
        "additional_blanks": "",
    }
    return {**base, **changes}


def read(*rows: dict[str, str]) -> tuple[list[RoomRecord], list[RejectedRow]]:
    return read_room_rows(list(rows), SCHOOL, KITS)


def only_record(*rows: dict[str, str]) -> RoomRecord:
    records, rejected = read(*rows)
    assert rejected == []
    assert len(records) == 1
    return records[0]


def only_reason(*rows: dict[str, str]) -> str:
    _, rejected = read(*rows)
    assert len(rejected) == 1
    return rejected[-1].reason


# --- accepted rows ---------------------------------------------------------------------------


def test_a_present_participant_without_flags_becomes_a_record_to_copy() -> None:
    record = only_record(row())
    assert record == RoomRecord(ESSAY, "present", False, False, False, 2, (), ())
    assert not record.flagged
    assert copy_status(record) == "copy"


@pytest.mark.parametrize(
    ("written", "attendance"),
    [
        ("явился", "present"),
        (" Явился ", "present"),
        ("присутствовал", "present"),
        ("present", "present"),
        ("не явился", "absent"),
        ("НЕ ЯВИЛСЯ", "absent"),
        ("отсутствовал", "absent"),
        ("absent", "absent"),
    ],
)
def test_attendance_is_read_in_russian_or_english_whatever_the_case(
    written: str, attendance: str
) -> None:
    assert only_record(row(attendance=written)).attendance == attendance


@pytest.mark.parametrize("written", ["1", "да", "Да", "+", "true", "yes", "x", "х", " X "])
def test_a_flag_written_as_a_yes_word_is_set(written: str) -> None:
    assert only_record(row(not_finished=written)).not_finished is True


@pytest.mark.parametrize("written", ["", " ", "0", "нет", "НЕТ", "-", "false", "no"])
def test_a_flag_written_as_a_no_word_or_left_empty_is_not_set(written: str) -> None:
    assert only_record(row(removed=written)).removed is False


def test_a_row_without_flag_columns_has_no_flags() -> None:
    record = only_record({"work_code": ESSAY, "attendance": "явился"})
    assert (record.not_finished, record.removed, record.oral) == (False, False, False)
    assert record.answer_blanks is None
    assert record.additional == ()


@pytest.mark.parametrize(("written", "count"), [("", None), (" 3 ", 3), ("0", 0), ("20", 20)])
def test_the_number_of_answer_blanks_is_a_number_from_0_to_20_or_empty(
    written: str, count: int | None
) -> None:
    assert only_record(row(answer_blanks=written)).answer_blanks == count


def test_additional_blank_codes_are_split_on_whitespace() -> None:
    record = only_record(row(additional_blanks=" 421710000108  421710000116 "))
    assert record.additional == ("421710000108", "421710000116")


def test_a_work_code_with_surrounding_spaces_is_accepted() -> None:
    assert only_record(row(work_code=f"  {ESSAY} ")).work_code == ESSAY


@pytest.mark.parametrize(
    ("flags", "status"),
    [({"not_finished": "да"}, "not_finished"), ({"removed": "да"}, "removed")],
)
def test_a_work_flagged_by_the_commission_is_accepted_as_flagged_and_not_copied(
    flags: dict[str, str], status: str
) -> None:
    record = only_record(row(**flags))
    assert record.flagged
    assert copy_status(record) == status


def test_oral_form_of_an_ovz_participant_is_accepted_without_a_warning() -> None:
    record = only_record(row(OVZ_KIT, oral="да"))
    assert record.oral is True
    assert record.warnings == ()


def test_oral_form_of_a_participant_without_ovz_is_accepted_with_a_warning() -> None:
    record = only_record(row(oral="да"))
    assert record.oral is True
    assert record.warnings == ("устная форма допускается только для участников с ОВЗ",)


def test_an_absent_participant_without_flags_is_accepted_as_absent() -> None:
    record = only_record(row(attendance="не явился", answer_blanks=""))
    assert copy_status(record) == "absent"


def test_every_issued_work_of_the_school_is_read_in_file_order() -> None:
    records, rejected = read(row(SECOND), row(ESSAY), row(OVZ_KIT, attendance="не явился"))
    assert rejected == []
    assert [r.work_code for r in records] == [SECOND, ESSAY, OVZ_KIT]


# --- rejected rows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (row(work_code=""), "не указан код работы"),
        (row(work_code="   "), "не указан код работы"),
        (row(NOT_ISSUED), f"код работы {NOT_ISSUED} не выдавался в этом сеансе"),
        (row(FOREIGN), f"работа {FOREIGN} выдана другой ОО ({OTHER_SCHOOL})"),
        (
            row(attendance="пришёл"),
            "«Явка»: «пришёл» — ожидается «явился» или «не явился»",
        ),
        (row(attendance=""), "«Явка»: «» — ожидается «явился» или «не явился»"),
        (row(not_finished="возможно"), "«Не закончил»: «возможно» — ожидается 1 или 0"),
        (row(removed="2"), "«Удален»: «2» — ожидается 1 или 0"),
        (row(oral="?"), "«В устной форме»: «?» — ожидается 1 или 0"),
        (
            row(not_finished="да", removed="да"),
            "отметки «Не закончил» и «Удален» исключают друг друга",
        ),
        (
            row(attendance="не явился", removed="да"),
            "у неявившегося участника не может быть отметок комиссии",
        ),
        (
            row(attendance="не явился", not_finished="1"),
            "у неявившегося участника не может быть отметок комиссии",
        ),
        (
            row(OVZ_KIT, attendance="не явился", oral="да"),
            "у неявившегося участника не может быть отметок комиссии",
        ),
        (
            row(answer_blanks="21"),
            "«Количество бланков записи»: «21» — ожидается число от 0 до 20",
        ),
        (
            row(answer_blanks="-1"),
            "«Количество бланков записи»: «-1» — ожидается число от 0 до 20",
        ),
        (
            row(answer_blanks="два"),
            "«Количество бланков записи»: «два» — ожидается число от 0 до 20",
        ),
    ],
)
def test_a_row_breaking_the_forms_rules_is_rejected_with_the_russian_reason(
    bad: dict[str, str], reason: str
) -> None:
    records, rejected = read(bad)
    assert records == []
    assert [r.reason for r in rejected] == [reason]


def test_a_second_row_for_the_same_work_is_rejected_and_the_first_kept() -> None:
    records, rejected = read(row(ESSAY), row(SECOND), row(ESSAY, removed="да"))
    assert [r.work_code for r in records] == [ESSAY, SECOND]
    assert records[0].removed is False
    assert [(r.line, r.reason) for r in rejected] == [
        (4, f"работа {ESSAY} уже указана в ведомости")
    ]


def test_a_rejected_row_keeps_its_line_counted_from_the_header_and_its_values() -> None:
    bad = row(NOT_ISSUED, answer_blanks="3")
    records, rejected = read(row(ESSAY), bad, row(SECOND))
    assert len(records) == 2
    assert rejected == [RejectedRow(3, bad, f"код работы {NOT_ISSUED} не выдавался в этом сеансе")]
    assert rejected[0].row is not bad  # a copy: the caller's row is not held


def test_no_rows_give_no_records_and_no_rejections() -> None:
    assert read() == ([], [])


# --- copy status -----------------------------------------------------------------------------


def _record(**changes: object) -> RoomRecord:
    fields: dict[str, object] = {
        "work_code": ESSAY,
        "attendance": "present",
        "not_finished": False,
        "removed": False,
        "oral": False,
        "answer_blanks": 1,
        "additional": (),
    }
    return RoomRecord(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("record", "status"),
    [
        (None, "no_record"),
        (_record(), "copy"),
        (_record(oral=True), "copy"),
        (_record(attendance="absent"), "absent"),
        (_record(not_finished=True), "not_finished"),
        (_record(removed=True), "removed"),
    ],
)
def test_the_copy_status_follows_the_room_record(record: RoomRecord | None, status: str) -> None:
    assert copy_status(record) == status


def test_every_copy_status_has_a_russian_title_for_the_school() -> None:
    assert set(COPY_STATUS_RU) == {"copy", "not_finished", "removed", "absent", "no_record"}
    assert all(title.strip() for title in COPY_STATUS_RU.values())


# --- expert assignment -----------------------------------------------------------------------

EXPERTS = ["Э-03", "Э-01", "Э-02"]
WORKS = [make_work_code("42", 2017, 1, n) for n in range(10, 20)]


def loads(assignment: dict[str, str]) -> Counter[str]:
    return Counter(assignment.values())


def test_every_work_goes_to_exactly_one_expert_of_the_commission() -> None:
    assignment = assign_experts(WORKS, EXPERTS, {})
    assert sorted(assignment) == sorted(WORKS)
    assert set(assignment.values()) <= set(EXPERTS)


@pytest.mark.parametrize("count", [1, 2, 3, 7, 10])
def test_the_load_of_experts_differs_by_at_most_one(count: int) -> None:
    assignment = assign_experts(WORKS[:count], EXPERTS, {})
    per_expert = [loads(assignment)[e] for e in EXPERTS]
    assert max(per_expert) - min(per_expert) <= 1


def test_works_go_in_code_order_to_the_least_loaded_expert_ties_by_code() -> None:
    assignment = assign_experts(reversed(WORKS[:4]), EXPERTS, {})
    assert [assignment[w] for w in WORKS[:4]] == ["Э-01", "Э-02", "Э-03", "Э-01"]


def test_the_assignment_does_not_depend_on_the_order_of_works_or_experts() -> None:
    first = assign_experts(WORKS, EXPERTS, {})
    assert assign_experts(list(reversed(WORKS)), sorted(EXPERTS, reverse=True), {}) == first


def test_running_again_with_the_current_assignment_changes_nothing() -> None:
    first = assign_experts(WORKS, EXPERTS, {})
    assert assign_experts(WORKS, EXPERTS, first) == first


def test_a_current_assignment_is_kept_even_when_it_is_not_the_balanced_one() -> None:
    current = {WORKS[0]: "Э-03", WORKS[1]: "Э-03"}
    assignment = assign_experts(WORKS[:2], EXPERTS, current)
    assert assignment == current


def test_new_works_go_to_the_experts_with_the_fewest_kept_works() -> None:
    current = {WORKS[0]: "Э-01", WORKS[1]: "Э-01"}
    assignment = assign_experts(WORKS[:4], EXPERTS, current)
    assert {w: assignment[w] for w in WORKS[:2]} == current
    assert (assignment[WORKS[2]], assignment[WORKS[3]]) == ("Э-02", "Э-03")


def test_the_works_of_an_expert_who_left_the_commission_go_to_the_others() -> None:
    first = assign_experts(WORKS[:6], EXPERTS, {})
    remaining = ["Э-01", "Э-02", "Э-04"]
    second = assign_experts(WORKS[:6], remaining, first)
    assert set(second.values()) <= set(remaining)
    for work, expert in first.items():
        if expert != "Э-03":
            assert second[work] == expert, "a work of a remaining expert moved"
    assert [second[w] for w in WORKS[:6] if first[w] == "Э-03"] == ["Э-04", "Э-04"]


def test_a_current_assignment_of_a_work_no_longer_to_copy_is_dropped() -> None:
    assignment = assign_experts(WORKS[:1], EXPERTS, {WORKS[0]: "Э-02", WORKS[5]: "Э-01"})
    assert assignment == {WORKS[0]: "Э-02"}


def test_a_work_or_expert_listed_twice_counts_once() -> None:
    assignment = assign_experts([WORKS[0], WORKS[0], WORKS[1]], [*EXPERTS, "Э-01"], {})
    assert assignment == {WORKS[0]: "Э-01", WORKS[1]: "Э-02"}


def test_no_works_give_an_empty_assignment() -> None:
    assert assign_experts([], EXPERTS, {}) == {}


def test_a_commission_of_three_experts_is_enough() -> None:
    assert MIN_COMMISSION == 3
    assert assign_experts(WORKS[:1], EXPERTS, {}) == {WORKS[0]: "Э-01"}


@pytest.mark.parametrize(
    "experts",
    [[], ["Э-01"], ["Э-01", "Э-02"], ["Э-01", "Э-02", "Э-02"]],
    ids=["none", "one", "two", "two-with-a-repeat"],
)
def test_a_commission_of_fewer_than_three_experts_is_refused_in_russian(
    experts: list[str],
) -> None:
    members = len(set(experts))
    with pytest.raises(ValueError, match="нужно не менее 3") as caught:
        assign_experts(WORKS, experts, {})
    assert str(caught.value) == f"в предметной комиссии {members} экспертов, нужно не менее 3"
