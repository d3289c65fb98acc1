"""Reconciliation of the regional database (tasks/domain/reconcile.py): consolidation keeps one
row per СНИЛС and per document, every kind of discrepancy is found where DOMAIN.md §4 and §9 say
and not one row earlier, messages name МОУО and rows but never a person, and keys are stable."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest

from tasks.domain.identifiers import format_snils, parse_snils, snils_check_number
from tasks.domain.participants import CATEGORY_NAMES_RU, SUBMISSION_COLUMNS, Category
from tasks.domain.reconcile import (
    DISCREPANCY_SCHEMA,
    ReconcileInput,
    ReconcileResult,
    consolidate,
    reconcile,
    registry_conflicts,
)

SCHOOL_YEAR = "2017/18"
SESSION = "2018-02-07"  # the additional date being reconciled
EARLIER = "2017-12-06"  # the main date of the same school year
PAST_YEAR = "2016/17"
PAST_SESSIONS = ("2016-12-07", "2017-02-01", "2017-05-03")

STUDENT = CATEGORY_NAMES_RU[Category.STUDENT]
GRADUATE = CATEGORY_NAMES_RU[Category.GRADUATE]

ALL_KINDS = (
    "no_submission",
    "duplicate_snils",
    "conflicting_snils",
    "duplicate_document",
    "duplicate_person",
    "attempts_exceeded",
    "already_passed",
    "graduate_rewrite",
    "attempt_mismatch",
    "school_count",
    "room_capacity",
)

ROW_SCHEMA: dict[str, Any] = {
    "mouo_code": pl.Utf8,
    "row_number": pl.Int64,
    **dict.fromkeys(SUBMISSION_COLUMNS, pl.Utf8),
}
HISTORY_SCHEMA: dict[str, Any] = {
    "snils": pl.Utf8,
    "school_year": pl.Utf8,
    "session_code": pl.Utf8,
    "passed": pl.Boolean,
}
SCHOOL_SCHEMA: dict[str, Any] = {
    "school_code": pl.Utf8,
    "mouo_code": pl.Utf8,
    "planned": pl.Int64,
    "capacity": pl.Int64,
}
SURNAMES = (
    "Иванов",
    "Петров",
    "Сидоров",
    "Кузнецов",
    "Смирнов",
    "Попов",
    "Васильев",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
)


def snils(person: int) -> str:
    """A valid СНИЛС (11 digits, as collect stores it): body 100-000-000 + person, check number."""
    body = f"{100_000_000 + person:09d}"
    value = body + f"{snils_check_number(body):02d}"
    assert parse_snils(value) == value
    return value


def document(person: int) -> str:
    """The passport number of a person: 6 digits."""
    return f"{500_000 + person:06d}"


def school_of(mouo_code: str, number: int = 1) -> str:
    """The school code of a МОУО: '42-01' → '4201001'."""
    return f"{mouo_code.replace('-', '')}{number:03d}"


def row(mouo_code: str, row_number: int, person: int, **changes: str) -> dict[str, Any]:
    """An accepted row of a МОУО (normalised, as collect stages it) for a person; every person
    number has its own birth date, passport and СНИЛС; then `changes`."""
    values: dict[str, Any] = {
        "mouo_code": mouo_code,
        "row_number": row_number,
        "surname": SURNAMES[person % len(SURNAMES)],
        "name": "Иван",
        "patronymic": "Иванович",
        "sex": "М",
        "birth_date": f"{date(2000, 1, 1) + timedelta(days=person):%d.%m.%Y}",
        "document_type": "паспорт гражданина РФ",
        "document_series": "3214",
        "document_number": document(person),
        "snils": snils(person),
        "category": STUDENT,
        "school_code": school_of(mouo_code),
        "class_name": "11А",
        "form": "сочинение",
        "oral": "нет",
        "ovz": "нет",
        "ovz_document": "",
        "attempt": "1",
    }
    assert set(changes) <= set(SUBMISSION_COLUMNS), set(changes) - set(SUBMISSION_COLUMNS)
    values.update(changes)
    assert set(values) == set(ROW_SCHEMA)
    return values


def namesake(
    mouo_code: str, row_number: int, person: int, other: int, **changes: str
) -> dict[str, Any]:
    """A row with the name and birth date of `person` but the СНИЛС and passport of `other`."""
    ids = {"snils": snils(other), "document_number": document(other)}
    return row(mouo_code, row_number, person, **ids, **changes)


History = tuple[str, str, str, bool | None]  # snils, school_year, session_code, passed
School = tuple[str, str, int | None, int | None]  # school_code, mouo_code, planned, capacity


def make_input(
    rows: Sequence[dict[str, Any]],
    history: Sequence[History] = (),
    schools: Sequence[School] = (),
    mouos: Sequence[str] | None = None,
) -> ReconcileInput:
    """Frames shaped as tasks/adapters/reconciliation.py reads them; the expected МОУО are the
    ones that submitted unless `mouos` says otherwise."""
    expected = sorted({r["mouo_code"] for r in rows}) if mouos is None else mouos
    return ReconcileInput(
        rows=pl.DataFrame(list(rows), schema=ROW_SCHEMA),
        history=pl.DataFrame(list(history), schema=HISTORY_SCHEMA, orient="row"),
        schools=pl.DataFrame(list(schools), schema=SCHOOL_SCHEMA, orient="row"),
        mouos=tuple(expected),
        school_year=SCHOOL_YEAR,
        session_code=SESSION,
    )


def run(
    rows: Sequence[dict[str, Any]],
    history: Sequence[History] = (),
    schools: Sequence[School] = (),
    mouos: Sequence[str] | None = None,
) -> ReconcileResult:
    return reconcile(make_input(rows, history, schools, mouos))


def kinds(result: ReconcileResult) -> list[str]:
    return sorted(result.discrepancies["kind"].to_list())


def of_kind(result: ReconcileResult, kind: str) -> list[dict[str, Any]]:
    return result.discrepancies.filter(pl.col("kind") == kind).to_dicts()


def failed(person: int, times: int, year: str = SCHOOL_YEAR) -> list[History]:
    """`times` «незачет» of a person in earlier sessions of `year`."""
    sessions = (EARLIER, "2017-12-20", "2018-01-17") if year == SCHOOL_YEAR else PAST_SESSIONS
    return [(snils(person), year, sessions[i % len(sessions)], False) for i in range(times)]


def personal_values(rows: Sequence[dict[str, Any]]) -> set[str]:
    """What must never appear in a discrepancy: names, birth dates, documents and СНИЛС."""
    values: set[str] = set()
    for r in rows:
        values |= {r["surname"], r["name"], r["patronymic"], r["birth_date"]}
        values |= {r["document_number"], r["snils"], format_snils(r["snils"])}
    return values - {""}


# --- every kind, found ---------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """An input where exactly one discrepancy of `kind` is found, and what it must say."""

    rows: list[dict[str, Any]]
    severity: str
    mouo_code: str
    school_code: str
    places: str  # the `rows` column; the message names them too
    named: str  # what the message must name besides the places
    history: list[History] = field(default_factory=list)
    schools: list[School] = field(default_factory=list)
    mouos: tuple[str, ...] | None = None

    def run(self) -> ReconcileResult:
        return run(self.rows, self.history, self.schools, self.mouos)


FOUND: dict[str, Found] = {
    "no_submission": Found(
        rows=[row("42-01", 1, person=1)],
        mouos=("42-01", "42-02"),
        severity="critical",
        mouo_code="42-02",
        school_code="",
        places="",
        named="МОУО 42-02 не представило сведения",
    ),
    "duplicate_snils": Found(
        rows=[row("42-01", 3, person=1), row("42-01", 7, person=1)],
        severity="critical",
        mouo_code="42-01",
        school_code="4201001",
        places="МОУО 42-01 стр. 3; МОУО 42-01 стр. 7",
        named="тот же СНИЛС",
    ),
    "conflicting_snils": Found(
        rows=[row("42-01", 3, person=1), row("42-01", 4, person=2, snils=snils(1))],
        severity="critical",
        mouo_code="42-01",
        school_code="4201001",
        places="МОУО 42-01 стр. 3; МОУО 42-01 стр. 4",
        named="разных людей",
    ),
    "duplicate_document": Found(
        rows=[row("42-01", 3, person=1), row("42-01", 4, person=2, document_number=document(1))],
        severity="critical",
        mouo_code="42-01",
        school_code="4201001",
        places="МОУО 42-01 стр. 3; МОУО 42-01 стр. 4",
        named="документ",
    ),
    "duplicate_person": Found(
        rows=[row("42-01", 3, person=1), namesake("42-01", 4, person=1, other=2)],
        severity="warning",
        mouo_code="42-01",
        school_code="4201001",
        places="МОУО 42-01 стр. 3; МОУО 42-01 стр. 4",
        named="разных СНИЛС",
    ),
    "attempts_exceeded": Found(
        rows=[row("42-01", 3, person=1, attempt="3")],
        history=failed(1, 3),
        severity="critical",
        mouo_code="42-01",
        school_code="4201001",
        places="МОУО 42-01 стр. 3",
        named="не более двух пересдач",
    ),
    "already_passed": Found(
        rows=[row("42-01", 3, person=1)],
        history=[(snils(1), SCHOOL_YEAR, EARLIER, True)],
        severity="critical",
        mouo_code="42-01",
        school_code="4201001",
        places="МОУО 42-01 стр. 3",
        named="«зачет»",
    ),
    "graduate_rewrite": Found(
        rows=[row("42-01", 3, person=1, category=GRADUATE, class_name="")],
        history=[(snils(1), PAST_YEAR, PAST_SESSIONS[0], True)],
        severity="warning",
        mouo_code="42-01",
        school_code="4201001",
        places="МОУО 42-01 стр. 3",
        named="аннулирован",
    ),
    "attempt_mismatch": Found(
        rows=[row("42-01", 3, person=1, attempt="1")],
        history=failed(1, 1),
        severity="warning",
        mouo_code="42-01",
        school_code="4201001",
        places="МОУО 42-01 стр. 3",
        named="номер попытки",
    ),
    "school_count": Found(
        rows=[row("42-01", 3, person=1)],
        schools=[("4201001", "42-01", 20, 100)],
        severity="warning",
        mouo_code="42-01",
        school_code="4201001",
        places="",
        named="ОО 4201001: зарегистрировано 1, планировалось 20",
    ),
    "room_capacity": Found(
        rows=[row("42-01", n, person=n) for n in (1, 2, 3)],
        schools=[("4201001", "42-01", 3, 2)],
        severity="critical",
        mouo_code="42-01",
        school_code="4201001",
        places="",
        named="ОО 4201001: участников 3, мест в аудиториях 2",
    ),
}


def test_every_kind_has_a_found_case() -> None:
    assert sorted(FOUND) == sorted(ALL_KINDS)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_each_kind_is_found_once_with_its_severity_and_place(kind: str) -> None:
    case = FOUND[kind]
    result = case.run()

    assert kinds(result) == [kind]  # and nothing else in this input
    (found,) = of_kind(result, kind)
    assert found["severity"] == case.severity
    assert found["mouo_code"] == case.mouo_code
    assert found["school_code"] == case.school_code
    assert found["rows"] == case.places
    assert case.places in found["message"]
    assert case.named in found["message"]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_each_kind_says_nothing_personal(kind: str) -> None:
    case = FOUND[kind]
    (found,) = of_kind(case.run(), kind)
    text = " ".join([found["key"], found["message"], found["rows"]])

    assert [value for value in personal_values(case.rows) if value in text] == []


# --- no_submission ---------------------------------------------------------------------------


def test_every_expected_mouo_that_submitted_is_not_reported_silent() -> None:
    rows = [row("42-01", 1, person=1), row("42-02", 1, person=2)]

    assert of_kind(run(rows, mouos=("42-01", "42-02")), "no_submission") == []


def test_a_mouo_that_submitted_without_being_expected_is_not_an_error() -> None:
    rows = [row("42-01", 1, person=1), row("42-09", 1, person=2)]

    result = run(rows, mouos=("42-01",))

    assert kinds(result) == []
    assert result.participants.height == 2


def test_a_region_with_no_rows_at_all_gets_only_no_submission() -> None:
    result = run(
        [],
        history=[(snils(1), SCHOOL_YEAR, EARLIER, True)],
        schools=[("4201001", "42-01", 20, 10), ("4202001", "42-02", 30, 10)],
        mouos=("42-01", "42-02"),
    )

    assert result.discrepancies["key"].to_list() == ["no_submission:42-01", "no_submission:42-02"]
    assert result.discrepancies.schema == DISCREPANCY_SCHEMA
    assert result.participants.is_empty()
    assert result.participants.columns == list(ROW_SCHEMA)


def test_empty_input_expecting_no_mouo_finds_nothing() -> None:
    result = run([], mouos=())

    assert result.discrepancies.is_empty()
    assert result.discrepancies.schema == DISCREPANCY_SCHEMA
    assert result.participants.is_empty()


# --- duplicates ----------------------------------------------------------------------------

DUPLICATES = {
    "duplicate_snils": lambda where, n: row(*where, person=1),
    "duplicate_document": lambda where, n: row(*where, person=n, document_number=document(1)),
    "duplicate_person": lambda where, n: namesake(*where, person=1, other=n),
}


@pytest.mark.parametrize("kind", sorted(DUPLICATES))
@pytest.mark.parametrize(
    ("places", "mouo_code", "school_code", "listed"),
    [
        pytest.param(
            [("42-01", 3), ("42-01", 7)],
            "42-01",
            "4201001",
            "МОУО 42-01 стр. 3; МОУО 42-01 стр. 7",
            id="within-mouo",
        ),
        pytest.param(
            [("42-02", 2), ("42-01", 5)],
            "42-01",
            "4201001",
            "МОУО 42-01 стр. 5; МОУО 42-02 стр. 2",
            id="across-mouo",
        ),
        pytest.param(
            [("42-03", 10), ("42-03", 9), ("42-02", 11)],
            "42-02",
            "4202001",
            "МОУО 42-02 стр. 11; МОУО 42-03 стр. 9; МОУО 42-03 стр. 10",
            id="three-rows-in-number-order",
        ),
    ],
)
def test_duplicates_are_found_within_and_across_mouo(
    kind: str, places: list[tuple[str, int]], mouo_code: str, school_code: str, listed: str
) -> None:
    rows = [DUPLICATES[kind](where, n) for n, where in enumerate(places, start=1)]

    (found,) = of_kind(run(rows), kind)

    assert found["mouo_code"] == mouo_code  # the first МОУО involved
    assert found["school_code"] == school_code
    assert found["rows"] == listed
    assert f"(строк: {len(places)}): {listed}" in found["message"]


def test_the_same_person_twice_with_the_same_snils_is_a_duplicate_snils_only() -> None:
    rows = [row("42-01", 1, person=1), row("42-02", 1, person=1)]

    assert kinds(run(rows)) == ["duplicate_snils"]  # not duplicate_person nor _document


def test_different_people_are_no_duplicates() -> None:
    rows = [row("42-01", n, person=n) for n in range(1, 6)]

    assert kinds(run(rows)) == []


@pytest.mark.parametrize(
    "change",
    [
        {"surname": "Петрова"},
        {"name": "Пётр"},
        {"patronymic": "Петрович"},
        {"birth_date": "02.03.2000"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_one_snils_for_people_differing_in_one_field_is_conflicting(change: dict[str, str]) -> None:
    rows = [row("42-01", 1, person=1), row("42-01", 2, person=1, **change)]

    assert kinds(run(rows)) == ["conflicting_snils"]


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Пётр"},
        {"patronymic": "Петрович"},
        {"patronymic": ""},
        {"birth_date": "02.03.2000"},
    ],
    ids=["name", "patronymic", "no-patronymic", "birth_date"],
)
def test_another_name_or_birth_date_with_another_snils_is_no_duplicate_person(
    change: dict[str, str],
) -> None:
    rows = [row("42-01", 1, person=1), namesake("42-01", 2, person=1, other=2, **change)]

    assert kinds(run(rows)) == []


def test_people_without_a_patronymic_are_still_compared_by_name_and_birth_date() -> None:
    rows = [
        row("42-01", 1, person=1, patronymic=""),
        namesake("42-02", 1, person=1, other=2, patronymic=""),
    ]

    (found,) = of_kind(run(rows), "duplicate_person")

    assert found["rows"] == "МОУО 42-01 стр. 1; МОУО 42-02 стр. 1"


@pytest.mark.parametrize(
    "change",
    [{"document_type": "иной документ"}, {"document_series": "3215"}],
    ids=["other-type", "other-series"],
)
def test_the_same_number_of_another_document_is_no_duplicate_document(
    change: dict[str, str],
) -> None:
    rows = [row("42-01", 1, person=1), row("42-01", 2, person=2, document_number=document(1))]
    rows[1].update(change)

    result = run(rows)

    assert kinds(result) == []
    assert result.participants.height == 2


def test_a_document_without_a_series_is_still_compared() -> None:
    foreign = {
        "document_type": "документ иностранного гражданина",
        "document_series": "",
        "document_number": "AB123456",
    }
    rows = [row("42-01", 1, person=1, **foreign), row("42-02", 4, person=2, **foreign)]

    result = run(rows)

    (found,) = of_kind(result, "duplicate_document")
    assert found["rows"] == "МОУО 42-01 стр. 1; МОУО 42-02 стр. 4"
    assert result.participants["snils"].to_list() == [snils(1)]  # dropped, but reported


# --- attempts and earlier results ------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "attempt", "expected"),
    [
        (0, "1", []),
        (1, "2", []),  # the first retake
        (2, "3", []),  # the second and last retake
        (3, "3", ["attempts_exceeded"]),  # a third retake is one too many
        (4, "3", ["attempts_exceeded"]),
    ],
)
def test_two_retakes_are_allowed_after_a_failure_this_year(
    failures: int, attempt: str, expected: list[str]
) -> None:
    result = run([row("42-01", 1, person=1, attempt=attempt)], history=failed(1, failures))

    assert kinds(result) == expected


def test_failures_of_another_school_year_do_not_count_as_attempts() -> None:
    history = failed(1, 3, year=PAST_YEAR)

    assert kinds(run([row("42-01", 1, person=1, attempt="1")], history=history)) == []


def test_history_of_the_session_being_reconciled_is_not_counted() -> None:
    """A re-run of reconciliation sees the registrations it stored itself."""
    history: list[History] = [
        *failed(1, 2),
        (snils(1), SCHOOL_YEAR, SESSION, False),
        (snils(2), SCHOOL_YEAR, SESSION, True),
    ]
    rows = [row("42-01", 1, person=1, attempt="3"), row("42-01", 2, person=2)]

    assert kinds(run(rows, history=history)) == []


def test_a_registration_without_a_result_is_no_failed_attempt() -> None:
    history: list[History] = [(snils(1), SCHOOL_YEAR, EARLIER, None)]

    assert kinds(run([row("42-01", 1, person=1, attempt="1")], history=history)) == []


def test_history_of_another_person_does_not_count() -> None:
    history = [*failed(2, 3), (snils(2), SCHOOL_YEAR, EARLIER, True)]

    assert kinds(run([row("42-01", 1, person=1)], history=history)) == []


def test_a_pass_in_a_past_year_is_no_obstacle_for_a_non_graduate() -> None:
    history: list[History] = [(snils(1), PAST_YEAR, PAST_SESSIONS[0], True)]

    assert kinds(run([row("42-01", 1, person=1)], history=history)) == []


def test_a_graduate_who_passed_this_year_rewrites_with_a_warning_not_an_error() -> None:
    history: list[History] = [(snils(1), SCHOOL_YEAR, EARLIER, True)]
    rows = [row("42-01", 1, person=1, category=GRADUATE, class_name="")]

    assert kinds(run(rows, history=history)) == ["graduate_rewrite"]


def test_a_graduate_without_an_earlier_pass_is_no_rewrite() -> None:
    history = failed(1, 1, year=PAST_YEAR)
    rows = [row("42-01", 1, person=1, category=GRADUATE, class_name="")]

    assert kinds(run(rows, history=history)) == []


@pytest.mark.parametrize(("failures", "attempt"), [(1, ""), (1, "2"), (0, "1"), (2, "3")])
def test_an_attempt_number_agreeing_with_history_or_left_empty_is_accepted(
    failures: int, attempt: str
) -> None:
    rows = [row("42-01", 1, person=1, attempt=attempt)]

    assert of_kind(run(rows, history=failed(1, failures)), "attempt_mismatch") == []


@pytest.mark.parametrize(("failures", "attempt"), [(0, "2"), (1, "3"), (2, "1")])
def test_an_attempt_number_disagreeing_with_history_is_a_warning(
    failures: int, attempt: str
) -> None:
    rows = [row("42-01", 1, person=1, attempt=attempt)]

    assert kinds(run(rows, history=failed(1, failures))) == ["attempt_mismatch"]


def test_a_person_repeated_in_two_rows_is_reported_once_at_the_first_row() -> None:
    rows = [row("42-02", 8, person=1, attempt="3"), row("42-01", 2, person=1, attempt="3")]

    result = run(rows, history=failed(1, 3))

    (found,) = of_kind(result, "attempts_exceeded")
    assert (found["mouo_code"], found["rows"]) == ("42-01", "МОУО 42-01 стр. 2")


# --- schools ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("planned", "registered", "reported"),
    [
        (10, 10, False),
        (10, 15, False),  # five off is within the minimum gap
        (10, 5, False),
        (10, 16, True),
        (10, 4, True),
        (40, 52, False),  # 30 % of 40 is 12
        (40, 28, False),
        (40, 53, True),
        (40, 27, True),
        (0, 20, False),  # nothing planned: nothing to compare
        (None, 20, False),
    ],
)
def test_a_school_count_far_from_the_plan_is_a_warning(
    planned: int | None, registered: int, reported: bool
) -> None:
    rows = [row("42-01", n, person=n) for n in range(1, registered + 1)]

    result = run(rows, schools=[("4201001", "42-01", planned, 1000)])

    assert kinds(result) == (["school_count"] if reported else [])


def test_a_school_with_nobody_registered_is_reported_when_some_were_planned() -> None:
    rows = [row("42-01", 1, person=1)]
    schools: list[School] = [("4201001", "42-01", 1, 30), ("4201002", "42-01", 25, 30)]

    (found,) = of_kind(run(rows, schools=schools), "school_count")

    assert found["school_code"] == "4201002"
    assert found["message"] == "ОО 4201002: зарегистрировано 0, планировалось 25"


def test_schools_of_a_mouo_that_has_not_submitted_get_no_count_warning() -> None:
    schools: list[School] = [("4201001", "42-01", 1, 30), ("4202001", "42-02", 25, 30)]

    result = run([row("42-01", 1, person=1)], schools=schools, mouos=("42-01", "42-02"))

    assert kinds(result) == ["no_submission"]


@pytest.mark.parametrize(
    ("capacity", "reported"), [(4, False), (3, False), (2, True), (None, False)]
)
def test_a_school_over_its_seats_is_critical_and_a_full_one_is_fine(
    capacity: int | None, reported: bool
) -> None:
    rows = [row("42-01", n, person=n) for n in (1, 2, 3)]

    found = of_kind(run(rows, schools=[("4201001", "42-01", 3, capacity)]), "room_capacity")

    assert len(found) == int(reported)


def test_seats_are_counted_for_consolidated_participants_not_for_rows() -> None:
    rows = [row("42-01", n, person=1) for n in (1, 2, 3)]

    result = run(rows, schools=[("4201001", "42-01", 1, 1)])

    assert kinds(result) == ["duplicate_snils"]


# --- consolidation ---------------------------------------------------------------------------


def test_the_first_row_of_a_person_wins_by_mouo_then_row_number() -> None:
    rows = [
        row("42-02", 1, person=1, class_name="11В"),
        row("42-01", 9, person=1, class_name="11Б"),
        row("42-01", 4, person=1, class_name="11А"),
    ]

    participants = consolidate(pl.DataFrame(rows, schema=ROW_SCHEMA))

    assert participants.select("mouo_code", "row_number", "class_name").rows() == [
        ("42-01", 4, "11А")
    ]


def test_a_document_already_taken_keeps_its_first_owner() -> None:
    rows = [
        row("42-02", 1, person=2, document_number=document(1)),
        row("42-01", 5, person=1),
        row("42-01", 6, person=3),
    ]

    participants = consolidate(pl.DataFrame(rows, schema=ROW_SCHEMA))

    assert participants["snils"].to_list() == [snils(1), snils(3)]


def test_rows_without_snils_are_not_merged_into_one_person() -> None:
    """Left for the registry contract to refuse rather than silently dropped."""
    rows = [row("42-01", 1, person=1, snils=""), row("42-01", 2, person=2, snils="")]

    result = run(rows)

    assert result.participants["row_number"].to_list() == [1, 2]
    assert kinds(result) == []


def test_consolidation_keeps_every_column_of_the_rows() -> None:
    rows = [row("42-01", 1, person=1, attempt="2", ovz="да", ovz_document="заключение ПМПК")]

    participants = reconcile(make_input(rows)).participants

    assert participants.schema == pl.Schema(ROW_SCHEMA)
    assert participants.to_dicts() == rows


# --- a region with every kind at once ----------------------------------------------------------


def mixed_region() -> ReconcileInput:
    """Three МОУО, 42-03 silent; one discrepancy of every kind."""
    rows = [
        row("42-01", 1, person=1),
        row("42-01", 2, person=2),
        row("42-01", 3, person=1),  # duplicate_snils with 42-01 стр. 1
        row("42-01", 4, person=3, snils=snils(2)),  # conflicting_snils with 42-01 стр. 2
        row("42-01", 5, person=4, attempt="3"),  # attempts_exceeded
        row("42-01", 6, person=5),  # already_passed
        row("42-01", 7, person=6, category=GRADUATE, class_name=""),  # graduate_rewrite
        row("42-01", 8, person=7, attempt="1"),  # attempt_mismatch
        row("42-02", 1, person=8),
        row("42-02", 2, person=9, document_number=document(8)),  # duplicate_document
        # duplicate_person with 42-01 стр. 1 and 3 (another СНИЛС and document)
        namesake("42-02", 3, person=1, other=10),
    ]
    history: list[History] = [
        *failed(4, 3),
        (snils(5), SCHOOL_YEAR, EARLIER, True),
        (snils(6), PAST_YEAR, PAST_SESSIONS[1], True),
        *failed(7, 1),
    ]
    schools: list[School] = [
        ("4201001", "42-01", 8, 5),  # 6 participants: room_capacity
        ("4202001", "42-02", 30, 40),  # 2 participants: school_count
        ("4203001", "42-03", 30, 40),  # silent МОУО: no school_count
    ]
    return make_input(rows, history, schools, mouos=("42-01", "42-02", "42-03"))


def test_a_mixed_region_finds_every_kind_once() -> None:
    result = reconcile(mixed_region())

    assert kinds(result) == sorted(ALL_KINDS)
    assert result.discrepancies.schema == DISCREPANCY_SCHEMA
    assert of_kind(result, "duplicate_person")[0]["rows"] == (
        "МОУО 42-01 стр. 1; МОУО 42-01 стр. 3; МОУО 42-02 стр. 3"
    )


def test_a_mixed_region_consolidates_one_row_per_snils_and_per_document() -> None:
    participants = reconcile(mixed_region()).participants

    assert participants.select("mouo_code", "row_number").rows() == [
        ("42-01", 1),
        ("42-01", 2),
        ("42-01", 5),
        ("42-01", 6),
        ("42-01", 7),
        ("42-01", 8),
        ("42-02", 1),
        ("42-02", 3),
    ]
    assert participants["snils"].n_unique() == participants.height
    documents = participants.select("document_type", "document_series", "document_number")
    assert documents.n_unique() == participants.height


def test_critical_discrepancies_come_before_warnings() -> None:
    severities = reconcile(mixed_region()).discrepancies["severity"].to_list()

    assert severities == sorted(severities)
    assert set(severities) == {"critical", "warning"}


def test_no_discrepancy_of_a_mixed_region_says_anything_personal() -> None:
    data = mixed_region()
    found = reconcile(data).discrepancies
    secrets = personal_values(data.rows.to_dicts())

    leaks = [
        (kind, value)
        for kind, key, message, rows in found.select("kind", "key", "message", "rows").rows()
        for value in secrets
        if value in f"{key} {message} {rows}"
    ]
    assert leaks == []


# --- keys --------------------------------------------------------------------------------------


def test_the_same_input_gives_the_same_discrepancies_twice() -> None:
    first, second = reconcile(mixed_region()), reconcile(mixed_region())

    assert first.discrepancies.equals(second.discrepancies)
    assert first.participants.equals(second.participants)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_row_order_changes_neither_keys_nor_messages(seed: int) -> None:
    data = mixed_region()
    order = list(range(data.rows.height))
    random.Random(seed).shuffle(order)
    shuffled = ReconcileInput(
        rows=data.rows[order],
        history=data.history.reverse(),
        schools=data.schools.reverse(),
        mouos=tuple(reversed(data.mouos)),
        school_year=data.school_year,
        session_code=data.session_code,
    )

    expected, actual = reconcile(data), reconcile(shuffled)

    assert actual.discrepancies.equals(expected.discrepancies)
    assert actual.participants.equals(expected.participants)


def test_keys_are_unique_and_start_with_their_kind() -> None:
    found = reconcile(mixed_region()).discrepancies

    assert found["key"].n_unique() == found.height
    assert all(key.startswith(f"{kind}:") for kind, key in found.select("kind", "key").rows())


def test_a_duplicate_keeps_its_key_when_another_row_joins_it() -> None:
    two = [row("42-01", 1, person=1), row("42-01", 2, person=1)]
    three = [*two, row("42-02", 7, person=1)]

    (before,) = of_kind(run(two), "duplicate_snils")
    (after,) = of_kind(run(three), "duplicate_snils")

    assert after["key"] == before["key"]
    assert after["rows"] == "МОУО 42-01 стр. 1; МОУО 42-01 стр. 2; МОУО 42-02 стр. 7"


def test_a_school_keeps_its_key_when_its_count_changes() -> None:
    schools: list[School] = [("4201001", "42-01", 40, 100)]
    one = run([row("42-01", 1, person=1)], schools=schools)
    two = run([row("42-01", 1, person=1), row("42-01", 2, person=2)], schools=schools)

    assert one.discrepancies["key"].to_list() == two.discrepancies["key"].to_list()
    assert one.discrepancies["message"].to_list() != two.discrepancies["message"].to_list()


def test_the_same_snils_gets_different_keys_for_different_kinds() -> None:
    rows = [row("42-01", 1, person=1, attempt="3"), row("42-01", 2, person=1, attempt="3")]

    result = run(rows, history=[*failed(1, 3), (snils(1), SCHOOL_YEAR, EARLIER, True)])

    assert kinds(result) == ["already_passed", "attempts_exceeded", "duplicate_snils"]
    assert result.discrepancies["key"].n_unique() == 3


def test_a_row_whose_document_belongs_to_a_graded_person_is_one_critical_discrepancy() -> None:
    taken = pl.DataFrame(
        {
            "mouo_code": ["42-02"],
            "row_number": [17],
            "school_code": ["4202003"],
            "snils": ["11223344595"],
        }
    )
    found = registry_conflicts(taken)
    assert found.schema == DISCREPANCY_SCHEMA
    [row] = found.to_dicts()
    assert (row["kind"], row["severity"], row["mouo_code"], row["school_code"]) == (
        "document_taken",
        "critical",
        "42-02",
        "4202003",
    )
    assert row["rows"] == "МОУО 42-02 стр. 17"
    assert "11223344595" not in row["message"] + row["key"]
    assert registry_conflicts(taken.head(0)).is_empty()
