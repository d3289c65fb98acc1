"""The rules of the `submission` contract computed with polars (tasks/domain/submission_rules.py):
every rule of data_contracts/submission.yaml passes a valid row and fails a row broken its way,
noise is normalised, eligibility follows DOMAIN.md §4, and failures split rows as §9 says."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any

import polars as pl
import pytest

from tasks.adapters.contracts import load_contract
from tasks.domain.contracts import Contract, reason_column, value_column
from tasks.domain.participants import SUBMISSION_COLUMNS
from tasks.domain.submission_rules import (
    SubmissionContext,
    failures_in_frame,
    foreign_inbox_owner,
    plural,
    prepare,
    split_rows,
)

EXAM_DATE = date(2017, 12, 6)
CONTEXT = SubmissionContext("42-01", EXAM_DATE, frozenset({"4201001", "4201002"}))
CONTRACT: Contract = load_contract("submission")

STUDENT = "Обучающийся 11 класса"
CLOSED = "Обучающийся в учреждении закрытого типа"
HOME = "Обучающийся на дому (санаторий) по медзаключению"
GRADUATE = "Выпускник прошлых лет"
SPO = "Обучающийся СПО"
FOREIGN = "Обучающийся иностранной ОО"
CERTIFICATE = "Лицо со справкой об обучении"
OVZ = {"ovz": "да", "ovz_document": "заключение ПМПК"}
OTHER_SNILS = "123-456-789 64"


def valid_row(**changes: str) -> dict[str, str]:
    """One participant as a МОУО writes them (docs/submission-format.md), then `changes`."""
    row = {
        "surname": "Иванов",
        "name": "Иван",
        "patronymic": "Иванович",
        "sex": "М",
        "birth_date": "15.03.2000",
        "document_type": "паспорт гражданина РФ",
        "document_series": "3214",
        "document_number": "123456",
        "snils": "112-233-445 95",
        "category": STUDENT,
        "school_code": "4201001",
        "class_name": "11А",
        "form": "сочинение",
        "oral": "нет",
        "ovz": "нет",
        "ovz_document": "",
        "attempt": "1",
    }
    assert set(row) == set(SUBMISSION_COLUMNS)
    row.update(changes)
    return row


def rows_frame(rows: list[dict[str, Any]], first_row: int = 1) -> pl.DataFrame:
    """Raw rows as the reader gives them: text, `row_number`, `parse_error` and `parse_warning`
    if a row has one."""
    columns = list(SUBMISSION_COLUMNS)
    for column in ("parse_error", "parse_warning"):
        if any(column in row for row in rows):
            columns.append(column)
    data = {c: [row.get(c) for row in rows] for c in columns}
    numbers = list(range(first_row, first_row + len(rows)))
    return pl.DataFrame(
        {**data, "row_number": numbers},
        schema={**dict.fromkeys(columns, pl.Utf8), "row_number": pl.Int64},
    )


def run(
    rows: list[dict[str, Any]], context: SubmissionContext = CONTEXT, first_row: int = 1
) -> tuple[pl.DataFrame, pl.DataFrame]:
    prepared = prepare(rows_frame(rows, first_row), CONTRACT, context)
    return prepared, failures_in_frame(prepared, CONTRACT)


def failed_rules(
    rows: list[dict[str, Any]], context: SubmissionContext = CONTEXT
) -> list[set[str]]:
    """The ids of the failed rules, per row."""
    _, failures = run(rows, context)
    result: list[set[str]] = [set() for _ in rows]
    for index, rule_id in failures.iter_rows():
        result[index].add(rule_id)
    return result


def problems_of(rows: list[dict[str, Any]], context: SubmissionContext = CONTEXT) -> pl.DataFrame:
    prepared, failures = run(rows, context)
    return split_rows(prepared, failures, CONTRACT)[1]


# --- one passing and one failing case per rule -----------------------------------------------
# rule id → (passing rows, failing rows); the last row is the one the case is about, any rows
# before it are valid context (the file's earlier rows).

V = valid_row
CASES: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    "row_parsed": (
        [V(parse_error="")],
        [V(parse_error="17 столбцов ожидалось, найдено 15")],
    ),
    "row_noted": ([V(parse_warning="")], [V(parse_warning="строка скрыта в Excel")]),
    "surname_present": ([V(surname="  иванов  ")], [V(surname=" \u00a0 ")]),
    "surname_cyrillic": ([V(surname="салтыков-щедрин")], [V(surname="Ивaнов")]),  # Latin «a»
    "name_present": ([V(name="\u00a0Иван\u00a0")], [V(name="")]),
    "name_cyrillic": ([V(name="Анна-Мария")], [V(name="Иван2")]),
    "patronymic_cyrillic": ([V(patronymic="")], [V(patronymic="Иванович-")]),
    "sex_known": ([V(sex="жен", name="Анна")], [V(sex="M")]),  # Latin «M»
    "birth_date_present": ([V(birth_date="29.02.2000")], [V(birth_date=" ")]),
    "birth_date_valid": ([V(birth_date=" 01.01.2000 ")], [V(birth_date="31.02.2000")]),
    # a student may be 14…25 on the exam day (06.12.2017); 22…25 is unusual (a warning)
    "birth_date_plausible": ([V(birth_date="06.12.1996")], [V(birth_date="05.12.1991")]),
    # a graduate of past years has no age limit, but 90 is worth a second look
    "birth_date_usual": (
        [V(category=GRADUATE, class_name="", birth_date="06.12.1952")],  # 65
        [V(category=GRADUATE, class_name="", birth_date="01.06.1927")],  # 90
    ),
    "document_valid": (
        [V(document_type="Свидетельство о рождении", document_series="IV-МЮ")],
        [V(document_series="32145")],
    ),
    "document_series_plain": (
        [V(document_type="Документ иностранного гражданина", document_series="-")],
        [V(document_type="Документ иностранного гражданина", document_series="-1")],
    ),
    "document_number_plain": (
        [V(document_type="Документ иностранного гражданина", document_number="A-12")],
        [V(document_type="Документ иностранного гражданина", document_number="-12")],
    ),
    "snils_present": ([V(snils=" 100-207-899 00 ")], [V(snils="  ")]),
    "snils_valid": ([V(snils="100-207-899 00")], [V(snils="112-233-445 96")]),
    "category_known": ([V(category=" обучающийся 11 КЛАССА")], [V(category="Экстерн")]),
    "form_known": ([V(form="Сочинение")], [V(form="эссе")]),
    "exposition_eligible": ([V(form="изложение", **OVZ)], [V(form="изложение")]),
    "voluntary_essay_only": (
        [V(category=GRADUATE, class_name="")],
        [V(category=GRADUATE, class_name="", form="изложение", **OVZ)],
    ),
    "yes_no_oral": ([V(oral="")], [V(oral="возможно")]),
    "yes_no_ovz": ([V(ovz="НЕТ")], [V(ovz="н/д")]),
    "oral_needs_ovz": ([V(oral="да", **OVZ)], [V(oral="да")]),
    "ovz_document_present": (
        [V(ovz="да", ovz_document="справка об инвалидности")],
        [V(ovz="да")],
    ),
    "ovz_document_plain": (
        [V(ovz="да", ovz_document="справка МСЭ № 1-2")],
        [V(ovz="да", ovz_document="=1+1")],
    ),
    "school_of_this_mouo": ([V(school_code="4201002")], [V(school_code="4202001")]),
    "attempt_allowed": ([V(attempt="3")], [V(attempt="4")]),
    "class_for_students": ([V(category=GRADUATE, class_name="")], [V(class_name="")]),
    "class_name_plain": (
        [V(category=GRADUATE, class_name="-")],
        [V(class_name='=HYPERLINK("http://x","y")')],
    ),
    "not_a_repeat": (
        [V(), V(snils=OTHER_SNILS, name="Пётр")],
        [V(), V(name="Пётр")],
    ),
}


def test_every_rule_of_the_contract_has_a_case() -> None:
    assert set(CASES) == {rule.id for rule in CONTRACT.rules}


def test_the_valid_row_breaks_no_rule() -> None:
    prepared, failures = run([V()])
    assert failures.is_empty()
    rows, problems = split_rows(prepared, failures, CONTRACT)
    assert rows["status"].to_list() == ["accepted"]
    assert problems.is_empty()


@pytest.mark.parametrize("rule_id", list(CASES))
def test_rule_passes_its_passing_case(rule_id: str) -> None:
    passing, _ = CASES[rule_id]
    assert failed_rules(passing) == [set()] * len(passing)


@pytest.mark.parametrize("rule_id", list(CASES))
def test_rule_fails_its_broken_row_and_nothing_else_fails(rule_id: str) -> None:
    _, failing = CASES[rule_id]
    assert failed_rules(failing) == [set()] * (len(failing) - 1) + [{rule_id}]


@pytest.mark.parametrize("rule_id", list(CASES))
def test_a_failure_becomes_a_problem_with_the_rules_severity_and_russian_column(
    rule_id: str,
) -> None:
    _, failing = CASES[rule_id]
    rule = CONTRACT.rule(rule_id)
    problems = problems_of(failing)
    assert problems.select("row_number", "column", "rule", "severity").rows() == [
        (len(failing), SUBMISSION_COLUMNS.get(rule.column, ""), rule_id, rule.severity)
    ]
    message = problems["message"][0]
    assert "{reason}" not in message
    assert message.strip(), "a problem must say something"
    if rule.message.strip() == "{reason}" or rule.message.endswith(": {reason}"):
        assert message != rule.message.replace("{reason}", ""), "the computed reason is missing"


# --- normalisation ---------------------------------------------------------------------------


def test_whitespace_nbsp_and_letter_case_noise_is_normalised_and_accepted() -> None:
    noisy = V(
        surname="  иванов  ",
        name="\u00a0ИВАН\u00a0",
        patronymic="иванович",
        sex="м",
        category=" обучающийся 11 КЛАССА",
        form=" Сочинение",
        oral="Да",
        ovz="ДА",
        ovz_document="заключение ПМПК",
        snils=" 112 233 445\u00a095 ",
        school_code=" 4201001\u00a0",
        attempt=" 2 ",
    )
    prepared, failures = run([noisy])
    assert failures.is_empty()
    values = prepared.select(value_column(f) for f in SUBMISSION_COLUMNS).row(0, named=True)
    assert values == {
        value_column("surname"): "Иванов",
        value_column("name"): "Иван",
        value_column("patronymic"): "Иванович",
        value_column("sex"): "М",
        value_column("birth_date"): "15.03.2000",
        value_column("document_type"): "паспорт гражданина РФ",
        value_column("document_series"): "3214",
        value_column("document_number"): "123456",
        value_column("snils"): "11223344595",
        value_column("category"): STUDENT,
        value_column("school_code"): "4201001",
        value_column("class_name"): "11А",
        value_column("form"): "сочинение",
        value_column("oral"): "да",
        value_column("ovz"): "да",
        value_column("ovz_document"): "заключение ПМПК",
        value_column("attempt"): "2",
    }


@pytest.mark.parametrize(
    ("raw", "sex"),
    [
        ("М", "М"),
        ("м", "М"),
        ("Муж", "М"),
        ("МУЖСКОЙ", "М"),
        ("Ж", "Ж"),
        ("жен", "Ж"),
        ("Женский", "Ж"),
    ],
)
def test_sex_spellings_are_normalised(raw: str, sex: str) -> None:
    prepared, failures = run([V(sex=raw)])
    assert failures.is_empty()
    assert prepared[value_column("sex")].to_list() == [sex]


def test_names_with_hyphens_and_runs_of_spaces_are_folded() -> None:
    prepared, failures = run([V(surname=" римского  -  корсакова ", name="анна   мария")])
    assert failures.is_empty()
    assert prepared[value_column("surname")].to_list() == ["Римского-Корсакова"]
    assert prepared[value_column("name")].to_list() == ["Анна Мария"]


def test_decomposed_unicode_letters_are_composed_and_accepted() -> None:
    # macOS writes «й» as «и» + U+0306 and «ё» as «е» + U+0308
    row = V(
        surname=unicodedata.normalize("NFD", "Йошкин"),
        name=unicodedata.normalize("NFD", "Пётр"),
        category=unicodedata.normalize("NFD", STUDENT),
    )
    prepared, failures = run([row])
    assert failures.is_empty()
    assert prepared[value_column("surname")].to_list() == ["Йошкин"]
    assert prepared[value_column("name")].to_list() == ["Пётр"]


def test_a_latin_lookalike_is_named_in_the_reason() -> None:
    prepared, failures = run([V(surname="Ивaнов")])  # Latin «a» in position 3
    assert failures.rows() == [(0, "surname_cyrillic")]
    reason = prepared[reason_column("surname_cyrillic")][0]
    assert "«a»" in reason
    assert "позиции 3" in reason
    problems = split_rows(prepared, failures, CONTRACT)[1]
    assert problems.select("column", "message").rows() == [("Фамилия", reason)]


def test_a_latin_capital_lookalike_at_the_start_is_named() -> None:
    prepared, _ = run([V(name="Cергей")])  # Latin «C»
    assert "«C»" in prepared[reason_column("name_cyrillic")][0]
    assert "позиции 1" in prepared[reason_column("name_cyrillic")][0]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("31.02.2000", "такой даты нет в календаре"),
        ("2000-03-15", "ожидается ДД.ММ.ГГГГ"),
        ("15/03/2000", "ожидается ДД.ММ.ГГГГ"),
        ("15.3.2000", "ожидается ДД.ММ.ГГГГ"),
        ("2000", "ожидается ДД.ММ.ГГГГ"),  # a year alone is not an Excel serial date
        ("36600.5", "ожидается ДД.ММ.ГГГГ"),  # a date with a time of day: not a birth date
        ("100000", "ожидается ДД.ММ.ГГГГ"),  # beyond 2099
    ],
)
def test_a_bad_birth_date_says_whether_the_format_or_the_day_is_wrong(
    raw: str, reason: str
) -> None:
    problems = problems_of([V(birth_date=raw)])
    assert problems.select("rule", "message").rows() == [
        ("birth_date_valid", f"дата рождения: {reason}")
    ]


@pytest.mark.parametrize(
    ("raw", "read"),
    [
        ("36600", "15.03.2000"),  # a date typed into a General-format cell
        ("36600.0", "15.03.2000"),
        ("36600,0", "15.03.2000"),  # as a Russian Excel writes it into a CSV
        ("39448", "01.01.2008"),
        ("3654", "01.01.1910"),  # the earliest serial read as a date
        ("73050", "31.12.2099"),  # the latest
    ],
)
def test_an_excel_serial_birth_date_is_read_as_the_date(raw: str, read: str) -> None:
    prepared, _ = run([V(birth_date=raw)])
    assert prepared[value_column("birth_date")].to_list() == [read]
    if read == "15.03.2000":  # the valid row's own date: nothing to report
        assert problems_of([V(birth_date=raw)]).is_empty()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("class_name", '=HYPERLINK("http://x","y")'),
        ("class_name", "+11А"),
        ("class_name", "@SUM(A1)"),
        ("ovz_document", "=1+1"),
        ("ovz_document", "-справка"),
    ],
)
def test_a_free_text_value_starting_like_a_formula_is_rejected_with_its_sign(
    field: str, value: str
) -> None:
    row = V(**{field: value}, **({"ovz": "да"} if field == "ovz_document" else {}))
    prepared, failures = run([row])
    rows, problems = split_rows(prepared, failures, CONTRACT)
    assert rows["status"].to_list() == ["rejected"]
    assert problems["rule"].to_list() == [f"{field}_plain"]
    assert problems["column"].to_list() == [SUBMISSION_COLUMNS[field]]
    message = problems["message"][0]
    assert f"начинается со знака «{value[0]}», так в Excel начинается формула" in message
    assert value not in message


@pytest.mark.parametrize("value", ["-", "11-А", "11А"])
def test_a_lone_dash_or_a_dash_inside_is_no_formula(value: str) -> None:
    assert failed_rules([V(class_name=value)]) == [set()]


def test_yes_no_signs_in_oral_and_ovz_are_read_as_words_never_stored_as_signs() -> None:
    prepared, failures = run([V(oral="-", ovz="-")])
    assert failures.is_empty()
    assert prepared[value_column("oral")].to_list() == ["нет"]
    assert prepared[value_column("ovz")].to_list() == ["нет"]


@pytest.mark.parametrize(
    ("snils", "reason"),
    [
        ("112-233-445 96", "неверное контрольное число"),
        ("112-233-445 9", "11 цифр"),
        ("001-001-998 64", "недопустимого диапазона"),  # check number right, range not
        ("112-233-44Б 95", "из цифр"),
    ],
)
def test_a_bad_snils_gets_its_reason(snils: str, reason: str) -> None:
    problems = problems_of([V(snils=snils)])
    assert problems["rule"].to_list() == ["snils_valid"]
    assert reason in problems["message"][0]


@pytest.mark.parametrize(
    "snils", ["100-207-899 00", "100-356-259 00", "353-908-900 00", "579-897-235 00", "11223344595"]
)
def test_snils_check_numbers_of_100_101_and_mod_101_100_are_00(snils: str) -> None:
    # weighted sums 100, 101, 201 and 302: check number 00 (the last two via mod 101 = 100, 0)
    assert failed_rules([V(snils=snils)]) == [set()]


# --- age for the category --------------------------------------------------------------------


AGE_CASES = [
    (GRADUATE, "01.06.1977", False),  # 40 on the exam day: a graduate may be 17…100
    (STUDENT, "01.06.1977", True),  # 40: not a school student (14…25)
    (STUDENT, "06.12.1992", False),  # 25 on the exam day itself
    (STUDENT, "07.12.1991", False),  # still 25: turns 26 the day after the exam
    (STUDENT, "05.12.1991", True),  # turned 26 the day before
    (STUDENT, "06.12.2003", False),  # 14 on the exam day
    (STUDENT, "07.12.2003", True),  # 13 until the day after
    (CLOSED, "01.06.1989", False),  # 28: closed institutions 14…30
    (HOME, "01.06.1989", True),  # 28: home-schooled 14…25
    (SPO, "01.06.1989", False),  # 28: СПО 14…30
    (FOREIGN, "01.06.1989", True),  # 28: foreign schools 14…25
    (CERTIFICATE, "01.06.1960", False),  # 57: study certificate 14…60
    (CERTIFICATE, "01.06.1955", True),  # 62
    (GRADUATE, "06.12.1917", False),  # 100
    (GRADUATE, "06.12.1916", True),  # 101
    (GRADUATE, "01.09.2018", True),  # in the future
    (STUDENT, "07.12.2017", True),  # the day after the exam: in the future
]
CATEGORY_CODES = {
    STUDENT: "student",
    CLOSED: "student_closed",
    HOME: "student_home",
    GRADUATE: "graduate",
    SPO: "spo",
    FOREIGN: "foreign_school",
    CERTIFICATE: "certificate",
}


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def test_the_age_table_agrees_with_the_contracts_bounds() -> None:
    bounds = CONTRACT.rule("birth_date_plausible").ages or {}
    assert set(bounds) == set(CATEGORY_CODES.values())
    for category, birth_date, fails in AGE_CASES:
        born = date(int(birth_date[6:]), int(birth_date[3:5]), int(birth_date[:2]))
        low, high = bounds[CATEGORY_CODES[category]]
        assert fails == (born > EXAM_DATE or not low <= _age(born, EXAM_DATE) <= high), birth_date


@pytest.mark.parametrize(("category", "birth_date", "fails"), AGE_CASES)
def test_age_bounds_depend_on_the_category(category: str, birth_date: str, fails: bool) -> None:
    mandatory = category in (STUDENT, CLOSED, HOME)
    row = V(category=category, birth_date=birth_date, class_name="11А" if mandatory else "")
    critical = failed_rules([row])[0] - {"birth_date_usual"}  # the warning: see below
    assert critical == ({"birth_date_plausible"} if fails else set())


# (category, birth date, warned): ages possible for the category but unusual are accepted with
# a warning; where the age is impossible the row is rejected and not warned as well.
USUAL_AGE_CASES = [
    (GRADUATE, "01.06.1927", True),  # 90: possible for a graduate of past years, unusual
    (GRADUATE, "06.12.1917", True),  # 100, the oldest possible
    (GRADUATE, "06.12.1952", False),  # 65
    (GRADUATE, "05.12.1951", True),  # turned 66 the day before the exam
    (GRADUATE, "06.12.1916", False),  # 101: rejected, not warned
    (STUDENT, "06.12.1992", True),  # 25: possible for a student, unusual
    (STUDENT, "06.12.1996", False),  # 21
    (STUDENT, "07.12.2002", True),  # 14
    (STUDENT, "01.09.2018", False),  # in the future: rejected, not warned
    (CERTIFICATE, "01.06.1960", True),  # 57
    (SPO, "01.06.1996", False),  # 21
]


@pytest.mark.parametrize(("category", "birth_date", "warned"), USUAL_AGE_CASES)
def test_an_unusual_age_for_the_category_is_a_warning(
    category: str, birth_date: str, warned: bool
) -> None:
    mandatory = category in (STUDENT, CLOSED, HOME)
    row = V(category=category, birth_date=birth_date, class_name="11А" if mandatory else "")
    assert ("birth_date_usual" in failed_rules([row])[0]) == warned


def test_a_90_year_old_graduate_is_accepted_with_a_warning_naming_the_age() -> None:
    row = V(category=GRADUATE, class_name="", birth_date="01.06.1927")
    prepared, failures = run([row])
    rows, problems = split_rows(prepared, failures, CONTRACT)
    assert rows["status"].to_list() == ["accepted"]
    assert problems.select("column", "rule", "severity").rows() == [
        ("Дата рождения", "birth_date_usual", "warning")
    ]
    message = problems["message"][0]
    assert message.startswith("дата рождения: возраст на день экзамена 90 лет — необычен")
    assert "17–65" in message
    assert "01.06.1927" not in message  # the value is the МОУО's own; the row number finds it


def test_the_age_reason_gives_the_age_and_the_categorys_bounds() -> None:
    problems = problems_of([V(birth_date="01.06.1977")])
    assert problems.select("column", "rule").rows() == [("Дата рождения", "birth_date_plausible")]
    message = problems["message"][0]
    assert message.startswith("дата рождения: возраст на день экзамена 40 лет")
    assert "14–25" in message


@pytest.mark.parametrize(
    ("birth_date", "category", "rule", "age"),
    [
        ("01.06.1995", STUDENT, "birth_date_usual", "22 года"),  # possible, unusual
        ("01.06.1946", GRADUATE, "birth_date_usual", "71 год"),
        ("01.06.1927", GRADUATE, "birth_date_usual", "90 лет"),
        ("01.06.1906", GRADUATE, "birth_date_plausible", "111 лет"),  # impossible
        ("01.06.1974", STUDENT, "birth_date_plausible", "43 года"),
        ("01.06.2006", STUDENT, "birth_date_plausible", "11 лет"),
    ],
)
def test_the_age_in_a_message_takes_the_word_its_number_needs(
    birth_date: str, category: str, rule: str, age: str
) -> None:
    mandatory = category in (STUDENT, CLOSED, HOME)
    row = V(category=category, birth_date=birth_date, class_name="11А" if mandatory else "")
    problems = problems_of([row])
    assert problems["rule"].to_list() == [rule]
    assert f"возраст на день экзамена {age} — " in problems["message"][0]


@pytest.mark.parametrize(
    ("count", "word"),
    [
        *[(0, "лет"), (1, "год"), (2, "года"), (4, "года"), (5, "лет"), (11, "лет")],
        *[(12, "лет"), (14, "лет"), (21, "год"), (22, "года"), (101, "год"), (111, "лет")],
    ],
)
def test_plural_chooses_the_russian_word_form(count: int, word: str) -> None:
    assert plural(count, "год", "года", "лет") == word


@pytest.mark.parametrize(
    ("document", "rules", "reason"),
    [
        # a passport's or a birth certificate's format names what the value must be
        (V(document_number="-123"), ["document_valid"], "номер паспорта РФ: 6 цифр"),
        (V(document_series="=1+1"), ["document_valid"], "серия паспорта РФ: 4 цифры"),
        (
            V(
                document_type="свидетельство о рождении",
                document_series="IV-МЮ",
                document_number="+12345",
            ),
            ["document_valid"],
            "номер свидетельства о рождении: 6 цифр",
        ),
        # a free-form document: the sign is the only thing wrong, and that is what is said
        (
            V(document_type="документ иностранного гражданина", document_number="=123"),
            ["document_number_plain"],
            "номер документа: значение начинается со знака «=»",
        ),
        (
            V(document_type="иной документ", document_series="@A", document_number="-123"),
            ["document_number_plain", "document_series_plain"],  # two cells, one message each
            "серия документа: значение начинается со знака «@»",
        ),
    ],
)
def test_a_formula_like_document_cell_gets_one_message(
    document: dict[str, str], rules: list[str], reason: str
) -> None:
    problems = problems_of([document]).sort("rule")
    assert problems["rule"].to_list() == rules
    assert any(reason in message for message in problems["message"])


def test_a_free_form_document_is_still_judged_beside_its_formula_like_cell() -> None:
    row = V(document_type="иной документ", document_series="=1", document_number="12!3")
    problems = problems_of([row]).sort("rule")
    assert problems.select("column", "rule").rows() == [
        ("Серия документа", "document_series_plain"),
        ("Номер документа", "document_valid"),
    ]
    assert problems["message"][1] == (
        "документ: номер документа не указан или содержит недопустимые символы"
    )


def test_a_future_birth_date_is_called_so() -> None:
    problems = problems_of([V(category=GRADUATE, class_name="", birth_date="01.09.2018")])
    assert problems.select("rule", "message").rows() == [
        ("birth_date_plausible", "дата рождения: дата в будущем")
    ]


@pytest.mark.parametrize(
    ("birth_date", "category", "expected", "reason"),
    [
        ("07.12.2017", STUDENT, {"birth_date_plausible"}, "дата в будущем"),
        ("01.01.2030", "Экстерн", {"birth_date_plausible", "category_known"}, "дата в будущем"),
        ("06.12.2017", STUDENT, {"birth_date_plausible"}, "возраст на день экзамена 0 лет"),
    ],
)
def test_a_date_after_the_exam_is_in_the_future_whatever_the_category(
    birth_date: str, category: str, expected: set[str], reason: str
) -> None:
    prepared, _ = run([V(birth_date=birth_date, category=category)])
    assert failed_rules([V(birth_date=birth_date, category=category)]) == [expected]
    assert prepared[reason_column("birth_date_plausible")][0].startswith(reason)


def test_the_age_is_counted_on_the_exam_date_of_the_context() -> None:
    row = V(birth_date="01.06.1992")  # 25 on 06.12.2017, 26 on 01.06.2018
    assert failed_rules([row]) == [{"birth_date_usual"}]  # possible: a warning only
    later = SubmissionContext("42-01", date(2018, 6, 1), CONTEXT.known_schools)
    assert failed_rules([row], later) == [{"birth_date_plausible"}]


# --- who may write an exposition, oral form, ОВЗ (DOMAIN.md §4) ------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"category": STUDENT, **OVZ}, set(), id="ovz-student"),
        pytest.param(
            {"category": STUDENT, "ovz": "да", "ovz_document": "справка об инвалидности"},
            set(),
            id="disabled-student",
        ),
        pytest.param({"category": CLOSED}, set(), id="closed-institution-without-ovz"),
        pytest.param({"category": HOME}, set(), id="home-schooled-without-ovz"),
        pytest.param({"category": STUDENT}, {"exposition_eligible"}, id="plain-student"),
        pytest.param(
            {"category": GRADUATE, "class_name": "", **OVZ},
            {"voluntary_essay_only"},
            id="graduate-even-with-ovz",
        ),
        pytest.param(
            {"category": SPO, "class_name": ""}, {"voluntary_essay_only"}, id="spo-student"
        ),
        pytest.param(
            {"category": FOREIGN, "class_name": "", **OVZ},
            {"voluntary_essay_only"},
            id="foreign-school-with-ovz",
        ),
        pytest.param(
            {"category": CERTIFICATE, "class_name": ""},
            {"voluntary_essay_only"},
            id="study-certificate",
        ),
    ],
)
def test_who_may_write_an_exposition(changes: dict[str, str], expected: set[str]) -> None:
    assert failed_rules([V(form="изложение", **changes)]) == [expected]
    # the essay is open to everybody
    assert failed_rules([V(form="сочинение", **changes)]) == [set()]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"oral": "да"}, {"oral_needs_ovz"}, id="oral-without-ovz"),
        pytest.param({"oral": "да", "ovz": ""}, {"oral_needs_ovz"}, id="oral-ovz-empty"),
        pytest.param({"oral": "да", **OVZ}, set(), id="oral-with-ovz"),
        pytest.param(
            {"oral": "да", "ovz": "да"},
            {"ovz_document_present"},
            id="oral-with-ovz-but-no-document",
        ),
        pytest.param({"ovz": "да"}, {"ovz_document_present"}, id="ovz-without-document"),
        pytest.param(
            {"ovz": "да", "ovz_document": " \u00a0"}, {"ovz_document_present"}, id="blank"
        ),
        pytest.param({"ovz": "нет", "ovz_document": ""}, set(), id="no-ovz-no-document"),
    ],
)
def test_oral_form_and_ovz_need_their_grounds(changes: dict[str, str], expected: set[str]) -> None:
    assert failed_rules([V(**changes)]) == [expected]


def test_an_ovz_student_writing_an_oral_exposition_is_accepted() -> None:
    assert failed_rules([V(form="изложение", oral="да", **OVZ)]) == [set()]


# --- school, attempts ------------------------------------------------------------------------


def test_a_school_of_another_mouo_and_an_unknown_school_fail_with_different_reasons() -> None:
    rows = [
        V(school_code="4202001"),  # well formed, municipality 42-02
        V(school_code="4201999", snils=OTHER_SNILS),  # this МОУО's prefix, not in the registry
        V(school_code="420100", snils="112-233-446 96"),  # six digits
    ]
    problems = problems_of(rows)
    assert problems.select("row_number", "column", "rule").rows() == [
        (1, "Код ОО", "school_of_this_mouo"),
        (2, "Код ОО", "school_of_this_mouo"),
        (3, "Код ОО", "school_of_this_mouo"),
    ]
    assert problems["message"].to_list() == [
        "код ОО: ОО 4202001 относится к другому МОУО",
        "код ОО: ОО 4201999 нет в региональной базе",
        "код ОО: ожидается 7 цифр",
    ]


def test_without_the_registry_any_school_with_the_mouos_prefix_is_accepted() -> None:
    context = SubmissionContext("42-01", EXAM_DATE, None)
    rows = [V(school_code="4201999"), V(school_code="4202001", snils=OTHER_SNILS)]
    assert failed_rules(rows, context) == [set(), {"school_of_this_mouo"}]


@pytest.mark.parametrize(
    ("attempt", "allowed"),
    [("1", True), ("2", True), ("3", True), ("", True), ("4", False), ("0", False)],
)
def test_at_most_two_retakes(attempt: str, allowed: bool) -> None:
    assert failed_rules([V(attempt=attempt)]) == [set() if allowed else {"attempt_allowed"}]


# --- repeats, unparsed rows, accepted and rejected -------------------------------------------


def test_a_repeated_snils_rejects_only_the_later_row_and_names_the_first() -> None:
    rows = [
        V(),
        V(snils=OTHER_SNILS, name="Пётр"),
        V(snils="11223344595", name="Павел"),  # same СНИЛС as the first, written differently
        V(snils="112 233 445 95", name="Семён"),
    ]
    prepared, failures = run(rows, first_row=5)  # row numbers 5…8
    assert failures.rows() == [(2, "not_a_repeat"), (3, "not_a_repeat")]
    statuses, problems = split_rows(prepared, failures, CONTRACT)
    assert statuses["status"].to_list() == ["accepted", "accepted", "rejected", "rejected"]
    assert problems.select("row_number", "column", "rule", "message").rows() == [
        (7, "СНИЛС", "not_a_repeat", "строка повторяет строку 5 этого файла (тот же СНИЛС)"),
        (8, "СНИЛС", "not_a_repeat", "строка повторяет строку 5 этого файла (тот же СНИЛС)"),
    ]


def test_rows_without_snils_are_rejected_as_such_not_as_repeats_of_each_other() -> None:
    assert failed_rules([V(snils=""), V(snils="", name="Пётр")]) == [{"snils_present"}] * 2


def test_a_row_with_a_parse_error_is_rejected_with_the_error() -> None:
    rows = [V(parse_error=None), V(parse_error="лишний столбец", snils=OTHER_SNILS)]
    prepared, failures = run(rows)
    statuses, problems = split_rows(prepared, failures, CONTRACT)
    assert statuses["status"].to_list() == ["accepted", "rejected"]
    assert problems.select("row_number", "rule", "severity", "message").rows() == [
        (2, "row_parsed", "critical", "строка не разобрана: лишний столбец")
    ]


def test_a_row_with_only_warnings_is_accepted_and_the_warning_reported() -> None:
    rows = [V(class_name=""), V(class_name="", snils="112-233-445 96")]
    prepared, failures = run(rows)
    statuses, problems = split_rows(prepared, failures, CONTRACT)
    assert statuses["status"].to_list() == ["accepted", "rejected"]
    assert statuses["row_number"].to_list() == [1, 2]
    assert problems.select("row_number", "column", "rule", "severity").rows() == [
        (1, "Класс", "class_for_students", "warning"),
        (2, "Класс", "class_for_students", "warning"),
        (2, "СНИЛС", "snils_valid", "critical"),
    ]
    assert problems["message"][0] == "для обучающегося 11 класса не указан класс"


def test_split_rows_keeps_every_row_and_column_of_the_prepared_frame() -> None:
    prepared, failures = run([V(), V(surname="", snils=OTHER_SNILS)])
    statuses, _ = split_rows(prepared, failures, CONTRACT)
    assert statuses.drop("status").equals(prepared)
    assert statuses["status"].to_list() == ["accepted", "rejected"]


def test_several_failures_of_one_row_are_all_reported() -> None:
    row = V(surname="", sex="X", snils="1", attempt="7", form="изложение")
    assert failed_rules([row]) == [
        {"surname_present", "sex_known", "snils_valid", "attempt_allowed", "exposition_eligible"}
    ]


# --- a file in the wrong inbox ---------------------------------------------------------------


def _codes(*codes: str) -> pl.DataFrame:
    return rows_frame([V(school_code=code) for code in codes])


def test_a_file_of_another_mouo_is_spotted() -> None:
    rows = _codes("4202001", "4202002", " 4202003 ", "4201001", "4202001")
    assert foreign_inbox_owner(rows, "42-01") == "42-02"


def test_the_own_file_and_a_few_foreign_codes_are_not_a_foreign_file() -> None:
    assert foreign_inbox_owner(_codes("4201001", "4201002", "4202001"), "42-01") is None
    # half the codes are 42-02's: not most of them
    assert foreign_inbox_owner(_codes("4201001", "4202001", "4202002", "4203001"), "42-01") is None
    assert foreign_inbox_owner(_codes("4201001", "4201001"), "42-01") is None


def test_a_file_without_usable_school_codes_has_no_foreign_owner() -> None:
    assert foreign_inbox_owner(_codes("", "42-02-1", "abc"), "42-01") is None
    assert foreign_inbox_owner(pl.DataFrame({"surname": ["Иванов"]}), "42-01") is None
