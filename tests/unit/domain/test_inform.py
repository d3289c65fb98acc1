"""Results lists, statistics and the retake list of the inform stage."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tasks.domain.inform import (
    OUTCOMES,
    ResultLine,
    by_mouo,
    by_school,
    check_lines,
    form_text,
    mark_letter,
    pass_rate,
    percent_text,
    result_text,
    retake_list,
    statistics,
)
from tasks.errors import DataError

PASSED_MARKS = {
    g: "зачет" for g in ("requirement_1", "requirement_2", "k1", "k2", "k3", "k4", "k5")
}


def line(code: str, outcome: str = "passed", **changes: Any) -> ResultLine:
    base = ResultLine(
        work_code=code,
        surname="Иванов",
        name="Иван",
        patronymic="Иванович",
        category="student",
        mouo_code="42-01",
        mouo_name="Управление образования г. Кемерово",
        school_code="4201001",
        school_name="МБОУ «СОШ № 1»",
        venue_code="4201001",
        venue_name="МБОУ «СОШ № 1»",
        class_name="11А",
        form="essay",
        oral=False,
        attempt=1,
        outcome=outcome,
        marks=PASSED_MARKS if outcome == "passed" else None,
    )
    return replace(base, **changes)


GRADUATE = line(
    "000000000009",
    category="graduate",
    surname="Абрамов",
    mouo_code="42-02",
    mouo_name="Отдел образования Кемеровского района",
    school_code=None,
    school_name=None,
    class_name=None,
    venue_code="4201001",  # wrote in a school of 42-01, lives in 42-02
)


# --- grouping ----------------------------------------------------------------------------------


def test_a_graduate_of_past_years_is_listed_at_the_mouo_of_residence_and_in_no_school() -> None:
    student = line("000000000001")
    schools = by_school([student, GRADUATE])
    mouos = by_mouo([student, GRADUATE])
    assert schools == {"4201001": [student]}
    assert mouos == {"42-01": [student], "42-02": [GRADUATE]}


def test_a_school_list_is_sorted_by_surname_name_patronymic_then_code_with_yo_as_ye() -> None:
    lines = [
        line("000000000005", surname="Ёлкин"),
        line("000000000004", surname="Ершов"),
        line("000000000003", surname="Жуков"),
        line("000000000002", surname="Андреев", name="Павел"),
        line("000000000001", surname="Андреев", name="Павел"),
        line("000000000006", surname="андреев", name="Анна", patronymic=None),
    ]
    codes = [x.work_code for x in by_school(lines)["4201001"]]
    assert codes == [
        "000000000006",  # Андреев Анна
        "000000000001",  # Андреев Павел, the smaller code first
        "000000000002",
        "000000000005",  # Ёлкин sorts as Елкин, before Ершов
        "000000000004",
        "000000000003",
    ]


def test_school_lists_come_in_order_of_school_code() -> None:
    lines = [line("000000000001", school_code="4201003"), line("000000000002")]
    assert list(by_school(lines)) == ["4201001", "4201003"]


def test_a_mouo_list_goes_school_by_school_with_those_without_a_school_last() -> None:
    lines = [
        replace(GRADUATE, mouo_code="42-01", surname="Аарон"),
        line("000000000001", school_code="4201002", surname="Борисов"),
        line("000000000002", surname="Яковлев"),
    ]
    codes = [x.work_code for x in by_mouo(lines)["42-01"]]
    assert codes == ["000000000002", "000000000001", "000000000009"]


# --- texts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "text"),
    [
        ("passed", "зачет"),
        ("failed", "незачет"),
        ("absent", "не явился"),
        ("not_finished", "не закончил"),
        ("removed", "удален"),
        ("not_graded", "не оценено"),
        ("no_record", "нет сведений"),
    ],
)
def test_result_text_gives_the_short_russian_form_of_each_outcome(outcome: str, text: str) -> None:
    assert result_text(line("000000000001", outcome)) == text


def test_every_outcome_has_a_result_text() -> None:
    assert {result_text(line("000000000001", o)) for o in OUTCOMES}


@pytest.mark.parametrize("outcome", ["unresolved", "passed?", ""])
def test_an_unfinished_or_unknown_outcome_is_refused(outcome: str) -> None:
    with pytest.raises(DataError, match="не окончательный"):
        result_text(line("000000000001", outcome))
    with pytest.raises(DataError, match="000000000001"):
        check_lines([line("000000000001", outcome)])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"category": "teacher"}, "категория"),
        ({"form": "poem"}, "форма"),
        ({"attempt": 0}, "попытки"),
    ],
)
def test_check_lines_refuses_what_no_report_can_show(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        check_lines([line("000000000001", **changes)])


def test_marks_are_letters_and_a_dash_where_there_is_no_mark() -> None:
    failed = line("000000000001", "failed", marks={**PASSED_MARKS, "k2": "незачет"})
    assert [mark_letter(failed, g) for g in ("k1", "k2")] == ["з", "н"]
    assert mark_letter(line("000000000002", "absent"), "k1") == "–"
    assert mark_letter(
        line("000000000003", "failed", marks={"requirement_1": "незачет"}), "k1"
    ) == ("–")


def test_the_form_says_when_it_was_taken_orally() -> None:
    assert form_text(line("000000000001")) == "сочинение"
    assert form_text(line("000000000001", form="exposition", oral=True)) == "изложение (устно)"


# --- statistics --------------------------------------------------------------------------------


def _session() -> list[ResultLine]:
    """42-01: two schools; 42-02: a graduate who was absent and a work not graded."""
    return [
        line("000000000001", "passed"),
        line("000000000002", "passed", form="exposition", category="student_home", oral=True),
        line("000000000003", "failed", marks={**PASSED_MARKS, "k1": "незачет"}),
        line("000000000004", "absent", school_code="4201002", school_name="МБОУ «СОШ № 2»"),
        line("000000000005", "removed", school_code="4201002", school_name="МБОУ «СОШ № 2»"),
        line("000000000006", "no_record", school_code="4201002", school_name="МБОУ «СОШ № 2»"),
        replace(GRADUATE, outcome="absent"),
        line(
            "000000000008",
            "not_graded",
            mouo_code="42-02",
            mouo_name="Отдел образования Кемеровского района",
            school_code="4202001",
            school_name="МБОУ «Школа № 5»",
        ),
    ]


def test_statistics_count_participants_present_and_results_per_mouo() -> None:
    stats = statistics(_session())
    first, second = stats.by_mouo
    assert (first.code, first.name) == ("42-01", "Управление образования г. Кемерово")
    assert (first.participants, first.wrote, first.passed, first.failed) == (6, 4, 2, 1)
    assert first.pass_rate == 66.7
    assert first.without_result == 3
    # nobody graded in 42-02: no rate, no division error
    assert (second.participants, second.wrote, second.graded) == (2, 1, 0)
    assert second.pass_rate is None


def test_statistics_per_school_leave_out_graduates_of_past_years() -> None:
    stats = statistics(_session())
    rows = {t.code: t for t in stats.by_school}
    assert list(rows) == ["4201001", "4201002", "4202001"]
    assert rows["4201001"].mouo_code == "42-01"
    assert (rows["4201001"].participants, rows["4201001"].pass_rate) == (3, 66.7)
    assert (rows["4201002"].participants, rows["4201002"].wrote) == (3, 1)
    assert rows["4201002"].pass_rate is None
    assert sum(t.participants for t in stats.by_school) == 7  # the graduate is in no school


def test_statistics_totals_add_up_over_the_region() -> None:
    stats = statistics(_session(), "Кемеровская область")
    total = stats.total
    assert total.name == "Кемеровская область"
    assert total.participants == 8 == sum(t.participants for t in stats.by_mouo)
    assert total.outcomes == {
        "passed": 2,
        "failed": 1,
        "absent": 2,
        "not_finished": 0,
        "removed": 1,
        "not_graded": 1,
        "no_record": 1,
    }
    assert (total.wrote, total.graded, total.pass_rate) == (5, 3, 66.7)


def test_statistics_count_outcomes_by_category_and_by_form() -> None:
    stats = statistics(_session())
    categories = {t.code: t for t in stats.by_category}
    assert list(categories) == ["student", "student_home", "graduate"]  # Category order
    assert categories["graduate"].name == "Выпускник прошлых лет"
    assert categories["graduate"].outcomes["absent"] == 1
    assert categories["student"].outcomes["passed"] == 1
    assert categories["student"].participants == 6
    forms = {t.code: t for t in stats.by_form}
    assert (forms["essay"].participants, forms["exposition"].participants) == (7, 1)
    assert forms["exposition"].name == "изложение"
    assert forms["exposition"].pass_rate == 100.0
    assert (stats.oral.participants, stats.oral.passed) == (1, 1)


def test_statistics_of_nobody_have_no_rates_and_no_rows() -> None:
    stats = statistics([])
    assert stats.total.participants == 0
    assert stats.total.pass_rate is None
    assert stats.by_mouo == stats.by_school == stats.by_category == stats.by_form == ()


@pytest.mark.parametrize(
    ("passed", "graded", "rate"),
    [(0, 0, None), (2, 3, 66.7), (1, 16, 6.3), (3, 3, 100.0), (0, 5, 0.0), (1, 8, 12.5)],
)
def test_the_pass_rate_is_a_percent_with_one_decimal_rounded_half_up(
    passed: int, graded: int, rate: float | None
) -> None:
    assert pass_rate(passed, graded) == rate


def test_a_rate_reads_with_a_decimal_comma_and_a_dash_for_none() -> None:
    assert percent_text(66.7) == "66,7 %"
    assert percent_text(100.0) == "100,0 %"
    assert percent_text(None) == "—"


# --- retakes -----------------------------------------------------------------------------------


def _reasons(lines: list[ResultLine], attempts_limit: int = 3) -> dict[str, tuple[str, bool]]:
    chosen = retake_list(lines, "2018-02-07", attempts_limit)
    return {x.line.work_code: (x.reason, x.conditional) for x in chosen}


def test_failed_removed_and_not_finished_may_retake_unconditionally() -> None:
    lines = [
        line("000000000001", "failed"),
        line("000000000002", "removed"),
        line("000000000003", "not_finished"),
    ]
    assert _reasons(lines) == {
        "000000000001": ("незачет", False),
        "000000000002": ("удален с экзамена (ИС-09)", False),
        "000000000003": ("не закончил по уважительной причине (ИС-08)", False),
    }


def test_the_absent_may_retake_only_with_a_document_of_a_valid_reason() -> None:
    assert _reasons([line("000000000001", "absent")]) == {
        "000000000001": ("не явился — при подтверждении уважительной причины", True)
    }


@pytest.mark.parametrize("outcome", ["passed", "not_graded", "no_record"])
def test_passed_not_graded_and_unrecorded_works_are_not_listed(outcome: str) -> None:
    assert retake_list([line("000000000001", outcome)], "2018-02-07") == []


def test_nobody_who_used_the_last_attempt_of_the_year_is_listed() -> None:
    lines = [
        line("000000000001", "failed", attempt=2),
        line("000000000002", "failed", attempt=3),
        line("000000000003", "absent", attempt=3),
        line("000000000004", "not_finished", attempt=3),
    ]
    assert list(_reasons(lines)) == ["000000000001"]
    assert list(_reasons(lines, attempts_limit=2)) == []


def test_after_the_last_session_of_the_year_nobody_is_listed() -> None:
    assert retake_list([line("000000000001", "failed")], None) == []


def test_an_attempts_limit_below_one_is_refused() -> None:
    with pytest.raises(DataError, match="попыток"):
        retake_list([], "2018-02-07", attempts_limit=0)


def test_the_retake_list_is_sorted_by_mouo_school_and_name() -> None:
    lines = [
        replace(GRADUATE, outcome="failed", mouo_code="42-01"),
        line("000000000002", "failed", surname="Яковлев"),
        line("000000000003", "failed", mouo_code="42-00", surname="Юрьев"),
        line("000000000004", "absent", surname="Борисов"),
    ]
    codes = [x.line.work_code for x in retake_list(lines, "2018-02-07")]
    assert codes == ["000000000003", "000000000004", "000000000002", "000000000009"]
