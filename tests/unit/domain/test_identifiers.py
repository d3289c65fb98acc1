"""Identifiers of the regional database: СНИЛС, documents, work codes, codes and names."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from tasks.domain.identifiers import (
    DocumentType,
    IdentityDocument,
    damm_check_digit,
    format_snils,
    is_valid_snils,
    is_valid_work_code,
    make_work_code,
    normalize_name,
    parse_document,
    parse_mouo_code,
    parse_name,
    parse_school_code,
    parse_snils,
    parse_topic_number,
    parse_work_code,
    snils_check_number,
)
from tasks.errors import DataError, InvalidIdentifier

CYRILLIC = re.compile(r"[А-Яа-яЁё]")

# Digits that `str.isdigit()` or `\d` accept but that are not the ASCII digits 0-9.
NON_ASCII_DIGITS = {
    "fullwidth": "０１２３４５６７８９",
    "arabic-indic": "٠١٢٣٤٥٦٧٨٩",
    "superscript": "⁰¹²³⁴⁵⁶⁷⁸⁹",
}


def to_non_ascii(text: str, script: str) -> str:
    """`text` with every ASCII digit replaced by its look-alike from `script`."""
    return text.translate(str.maketrans("0123456789", NON_ASCII_DIGITS[script]))


def assert_russian_reason(error: pytest.ExceptionInfo[InvalidIdentifier], *fragments: str) -> None:
    """The error carries a Russian reason that contains every fragment."""
    reason = error.value.reason
    assert reason == str(error.value)
    assert CYRILLIC.search(reason), f"reason is not in Russian: {reason!r}"
    for fragment in fragments:
        assert fragment in reason, f"{fragment!r} not in {reason!r}"


# --- СНИЛС -------------------------------------------------------------------------------------


def weighted_sum(first_nine: str) -> int:
    """Σ digit × weight with weights 9, 8, …, 1 — computed here independently of the module."""
    return sum(int(first_nine[i]) * (9 - i) for i in range(9))


def reference_check_number(first_nine: str) -> int:
    """DOMAIN.md's rule in one line: < 100 → sum; 100, 101 → 0; above → sum mod 101, 100 → 0."""
    return weighted_sum(first_nine) % 101 % 100


def make_snils(first_nine: str) -> str:
    return f"{first_nine}{reference_check_number(first_nine):02d}"


@pytest.mark.parametrize(
    ("first_nine", "expected_sum", "expected_check"),
    [
        ("112233445", 95, 95),  # the textbook example 112-233-445 95
        ("100582052", 99, 99),  # largest sum used as is
        ("050234316", 100, 0),  # 100 → 00
        ("016103396", 101, 0),  # 101 → 00
        ("700201621", 102, 1),  # first sum reduced mod 101
        ("136571200", 150, 49),
        ("820981233", 201, 0),  # 201 mod 101 = 100 → 00
        ("913702858", 202, 0),  # 202 mod 101 = 0
        ("087654303", 202, 0),  # the other textbook example 087-654-303 00
        ("368898975", 302, 0),  # 302 mod 101 = 100 → 00
        ("866677939", 303, 0),  # 303 = 3 × 101 → 00
        ("999999999", 405, 1),  # the largest possible sum
    ],
)
def test_snils_check_number_follows_the_pension_fund_rule_at_every_boundary(
    first_nine: str, expected_sum: int, expected_check: int
) -> None:
    assert weighted_sum(first_nine) == expected_sum  # the case really sits where it claims to
    assert snils_check_number(first_nine) == expected_check


def test_snils_check_number_agrees_with_an_independent_reference_on_many_numbers() -> None:
    rng = random.Random(20180205)
    bodies = [f"{rng.randrange(1_000_000_000):09d}" for _ in range(5000)]
    mismatches = [b for b in bodies if snils_check_number(b) != reference_check_number(b)]
    assert mismatches == []


def test_snils_check_number_is_always_a_two_digit_number() -> None:
    rng = random.Random(7)
    checks = {snils_check_number(f"{rng.randrange(1_000_000_000):09d}") for _ in range(5000)}
    assert min(checks) >= 0
    assert max(checks) <= 99


@pytest.mark.parametrize("first_nine", ["", "12345678", "1234567890", "12345678a", "123-45678"])
def test_snils_check_number_rejects_anything_but_nine_digits(first_nine: str) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        snils_check_number(first_nine)
    assert_russian_reason(error, "СНИЛС")


@pytest.mark.parametrize("script", sorted(NON_ASCII_DIGITS))
def test_snils_check_number_rejects_non_ascii_digits_with_a_reason_not_a_crash(
    script: str,
) -> None:
    with pytest.raises(InvalidIdentifier):
        snils_check_number(to_non_ascii("112233445", script))


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("112-233-445 95", "11223344595"),
        ("11223344595", "11223344595"),
        ("  112-233-445 95  ", "11223344595"),
        ("112 233 445 95", "11223344595"),
        ("112-233-445-95", "11223344595"),
        ("112\t233\u00a0445\n95", "11223344595"),
        ("087-654-303 00", "08765430300"),
        ("001-001-999 65", "00100199965"),  # the first number that carries a check number
    ],
)
def test_parse_snils_accepts_printed_and_bare_forms_and_returns_eleven_digits(
    raw: str, canonical: str
) -> None:
    assert parse_snils(raw) == canonical
    assert is_valid_snils(raw) is True


def test_the_first_checked_snils_carries_its_weighted_sum_as_check_number() -> None:
    # 0·9 + 0·8 + 1·7 + 0·6 + 0·5 + 1·4 + 9·3 + 9·2 + 9·1 = 65
    assert weighted_sum("001001999") == 65
    assert snils_check_number("001001999") == 65
    assert not is_valid_snils("001-001-999 66")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "не указан"),
        ("   ", "не указан"),
        ("- -", "не указан"),
        ("112-233-445 9O", "из цифр"),  # Latin O instead of zero
        ("112-233-445 9О", "из цифр"),  # Cyrillic О instead of zero
        ("112.233.445 95", "из цифр"),
        ("112-233-445 9", "11 цифр, указано 10"),
        ("112-233-445 955", "11 цифр, указано 12"),
        ("112-233-445 96", "неверное контрольное число"),
        ("112-233-445 59", "неверное контрольное число"),
        ("121-233-445 95", "неверное контрольное число"),  # adjacent digits swapped
        ("000-000-000 00", "недопустимого диапазона"),
        ("001-001-998 00", "недопустимого диапазона"),  # the rule starts above 001-001-998
    ],
)
def test_parse_snils_rejects_malformed_numbers_with_a_russian_reason(
    raw: str, fragment: str
) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_snils(raw)
    assert_russian_reason(error, "СНИЛС", fragment)
    assert is_valid_snils(raw) is False


def test_parse_snils_accepts_every_check_number_computed_by_the_reference() -> None:
    rng = random.Random(11)
    bodies = [f"{rng.randrange(1_001_999, 1_000_000_000):09d}" for _ in range(2000)]
    assert all(parse_snils(make_snils(body)) == make_snils(body) for body in bodies)


def test_parse_snils_rejects_every_wrong_check_number_of_a_valid_body() -> None:
    body = "112233445"
    accepted = [check for check in range(100) if is_valid_snils(f"{body}{check:02d}")]
    assert accepted == [95]


@pytest.mark.parametrize("script", sorted(NON_ASCII_DIGITS))
def test_parse_snils_rejects_look_alike_digits_from_other_scripts(script: str) -> None:
    raw = to_non_ascii("112-233-445 95", script)
    with pytest.raises(InvalidIdentifier) as error:
        parse_snils(raw)
    assert_russian_reason(error, "СНИЛС")
    assert is_valid_snils(raw) is False


def test_invalid_identifier_is_a_data_error_so_callers_can_report_it() -> None:
    with pytest.raises(DataError):
        parse_snils("112-233-445 96")


@pytest.mark.parametrize(
    ("raw", "printed"),
    [
        ("11223344595", "112-233-445 95"),
        (" 112 233 445 95 ", "112-233-445 95"),
        ("08765430300", "087-654-303 00"),
    ],
)
def test_format_snils_prints_the_canonical_dashed_form(raw: str, printed: str) -> None:
    assert format_snils(raw) == printed
    assert parse_snils(format_snils(raw)) == parse_snils(raw)


def test_format_snils_refuses_to_print_an_invalid_number() -> None:
    with pytest.raises(InvalidIdentifier) as error:
        format_snils("11223344596")
    assert_russian_reason(error, "контрольное число")


# --- identity documents ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc_type", "series", "number", "expected"),
    [
        ("passport_rf", "4510", "123456", ("4510", "123456")),
        ("passport_rf", "45 10", "123 456", ("4510", "123456")),
        (" passport_rf ", " 4510 ", " 012345 ", ("4510", "012345")),
        ("birth_certificate", "IV-МЮ", "123456", ("IV-МЮ", "123456")),
        ("birth_certificate", "iv-мю", "654321", ("IV-МЮ", "654321")),
        ("birth_certificate", "XII-АЁ", "000001", ("XII-АЁ", "000001")),
        ("birth_certificate", "I-ЖД", "123 456", ("I-ЖД", "123456")),
        ("foreign_passport", "", "AB1234567", ("", "AB1234567")),
        ("foreign_passport", "ab", "1234567", ("AB", "1234567")),
        ("other", "", "7-ЗП-17", ("", "7-ЗП-17")),
        ("other", "II-АБ", "12", ("II-АБ", "12")),
    ],
)
def test_parse_document_accepts_valid_documents_and_cleans_series_and_number(
    doc_type: str, series: str, number: str, expected: tuple[str, str]
) -> None:
    document = parse_document(doc_type, series, number)
    assert isinstance(document, IdentityDocument)
    assert document.type is DocumentType(doc_type.strip())
    assert (document.series, document.number) == expected


@pytest.mark.parametrize(
    ("series", "number", "fragment"),
    [
        ("451", "123456", "серия паспорта РФ"),
        ("45101", "123456", "серия паспорта РФ"),
        ("45А0", "123456", "серия паспорта РФ"),
        ("", "123456", "серия паспорта РФ"),
        ("45-10", "123456", "серия паспорта РФ"),
        ("4510", "12345", "номер паспорта РФ"),
        ("4510", "1234567", "номер паспорта РФ"),
        ("4510", "12345б", "номер паспорта РФ"),
        ("4510", "", "номер паспорта РФ"),
        ("4510", "123-456", "номер паспорта РФ"),
    ],
)
def test_parse_document_rejects_a_passport_without_four_plus_six_digits(
    series: str, number: str, fragment: str
) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_document("passport_rf", series, number)
    assert_russian_reason(error, fragment)


@pytest.mark.parametrize("script", sorted(NON_ASCII_DIGITS))
def test_parse_document_rejects_a_passport_typed_in_look_alike_digits(script: str) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_document("passport_rf", to_non_ascii("4510", script), "123456")
    with pytest.raises(InvalidIdentifier):
        parse_document("passport_rf", "4510", to_non_ascii("123456", script))


@pytest.mark.parametrize(
    ("series", "number", "fragment"),
    [
        ("IV-MЮ", "123456", "серия свидетельства"),  # Latin M
        ("ІV-МЮ", "123456", "серия свидетельства"),  # Ukrainian І instead of the Roman I
        ("IV МЮ", "123456", "серия свидетельства"),  # the space is dropped, the dash is missing
        ("IVМЮ", "123456", "серия свидетельства"),
        ("IV-М", "123456", "серия свидетельства"),
        ("IV-МЮЯ", "123456", "серия свидетельства"),
        ("4-МЮ", "123456", "серия свидетельства"),
        ("IIIII-МЮ", "123456", "серия свидетельства"),
        ("", "123456", "серия свидетельства"),
        ("IV-МЮ", "12345", "номер свидетельства"),
        ("IV-МЮ", "1234567", "номер свидетельства"),
        ("IV-МЮ", "", "номер свидетельства"),
    ],
)
def test_parse_document_rejects_a_malformed_birth_certificate(
    series: str, number: str, fragment: str
) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_document("birth_certificate", series, number)
    assert_russian_reason(error, fragment)


@pytest.mark.parametrize("doc_type", ["foreign_passport", "other"])
@pytest.mark.parametrize(
    ("series", "number", "fragment"),
    [
        ("", "", "номер документа не указан"),
        ("", "   ", "номер документа не указан"),
        ("", "AB/123", "недопустимые символы"),
        ("", "№123", "недопустимые символы"),
        ("", "1" * 21, "недопустимые символы"),
        ("A.B", "123", "серия документа"),
        ("№", "123", "серия документа"),
        ("A" * 21, "123", "серия документа"),
    ],
)
def test_parse_document_rejects_free_form_documents_with_stray_characters(
    doc_type: str, series: str, number: str, fragment: str
) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_document(doc_type, series, number)
    assert_russian_reason(error, fragment)


@pytest.mark.parametrize("doc_type", ["", "passport", "PASSPORT_RF", "driver_license"])
def test_parse_document_rejects_an_unknown_document_type_and_names_it(doc_type: str) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_document(doc_type, "4510", "123456")
    assert_russian_reason(error, "неизвестный тип документа", f"«{doc_type}»")


# --- work code ---------------------------------------------------------------------------------


def reference_damm(digits: str) -> int:
    """Damm's check digit with the published table, written out independently of the module."""
    table = [
        "0317598642",
        "7092154863",
        "4206871359",
        "1750983426",
        "6123045978",
        "3674209581",
        "5869720134",
        "8945362017",
        "9438617205",
        "2581436790",
    ]
    interim = 0
    for digit in digits:
        interim = int(table[interim][int(digit)])
    return interim


@pytest.mark.parametrize(
    ("digits", "check"),
    [
        ("572", 4),  # the worked example from Damm's algorithm description
        ("5724", 0),  # a number followed by its check digit checks to zero
        ("", 0),
        ("0", 0),
        ("1", 3),
        ("9", 2),
    ],
)
def test_damm_check_digit_matches_the_published_examples(digits: str, check: int) -> None:
    assert damm_check_digit(digits) == check


def test_damm_check_digit_agrees_with_an_independent_reference() -> None:
    rng = random.Random(42)
    numbers = ["".join(rng.choices("0123456789", k=rng.randrange(1, 16))) for _ in range(3000)]
    assert [damm_check_digit(n) for n in numbers] == [reference_damm(n) for n in numbers]


@pytest.mark.parametrize(
    ("region", "year", "session_no", "serial", "body"),
    [
        ("42", 2017, 1, 5, "42171000005"),
        ("77", 2023, 9, 999_999, "77239999999"),
        ("01", 2000, 2, 0, "01002000000"),
        ("42", 2009, 3, 123_456, "42093123456"),  # only the last two digits of the year
    ],
)
def test_make_work_code_lays_out_region_year_session_serial_then_the_damm_digit(
    region: str, year: int, session_no: int, serial: int, body: str
) -> None:
    code = make_work_code(region, year, session_no, serial)
    assert code == body + str(reference_damm(body))
    assert len(code) == 12
    assert parse_work_code(code) == code
    assert is_valid_work_code(code) is True


@pytest.mark.parametrize(
    ("region", "session_no", "serial", "fragment"),
    [
        ("4", 1, 1, "код региона"),
        ("042", 1, 1, "код региона"),
        ("4a", 1, 1, "код региона"),
        ("", 1, 1, "код региона"),
        ("４２", 1, 1, "код региона"),  # fullwidth digits
        ("42", 0, 1, "номер этапа"),
        ("42", 10, 1, "номер этапа"),
        ("42", -1, 1, "номер этапа"),
        ("42", 1, -1, "порядковый номер"),
        ("42", 1, 1_000_000, "порядковый номер"),
    ],
)
def test_make_work_code_rejects_out_of_range_parts(
    region: str, session_no: int, serial: int, fragment: str
) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        make_work_code(region, 2017, session_no, serial)
    assert_russian_reason(error, fragment)


def test_make_work_code_gives_distinct_codes_to_distinct_serials() -> None:
    codes = {make_work_code("42", 2017, 1, serial) for serial in range(2000)}
    assert len(codes) == 2000


VALID_WORK_CODES = [
    make_work_code("42", 2017, 1, 5),
    make_work_code("42", 2017, 2, 987_654),
    make_work_code("77", 2024, 3, 101_010),
    make_work_code("99", 2098, 9, 135_792),
    make_work_code("01", 2000, 1, 0),
]


@pytest.mark.parametrize("code", VALID_WORK_CODES)
def test_every_single_digit_substitution_of_a_valid_work_code_is_rejected(code: str) -> None:
    assert is_valid_work_code(code)
    accepted = []
    for position in range(len(code)):
        for digit in "0123456789":
            if digit == code[position]:
                continue
            typo = code[:position] + digit + code[position + 1 :]
            if is_valid_work_code(typo):
                accepted.append(typo)
    assert accepted == []


@pytest.mark.parametrize("code", VALID_WORK_CODES)
def test_every_adjacent_transposition_of_a_valid_work_code_is_rejected(code: str) -> None:
    assert is_valid_work_code(code)
    swaps = [
        code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        for i in range(len(code) - 1)
        if code[i] != code[i + 1]
    ]
    assert len(swaps) >= 5  # the code has enough distinct neighbours to make the loop meaningful
    assert [swap for swap in swaps if is_valid_work_code(swap)] == []


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        (VALID_WORK_CODES[0], VALID_WORK_CODES[0]),
        (f"  {VALID_WORK_CODES[0]}  ", VALID_WORK_CODES[0]),
        (
            "-".join([VALID_WORK_CODES[1][:2], VALID_WORK_CODES[1][2:5], VALID_WORK_CODES[1][5:]]),
            VALID_WORK_CODES[1],
        ),
        (" ".join(VALID_WORK_CODES[2][i : i + 3] for i in range(0, 12, 3)), VALID_WORK_CODES[2]),
    ],
)
def test_parse_work_code_ignores_spaces_and_dashes(raw: str, canonical: str) -> None:
    assert parse_work_code(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "12 цифр"),
        (VALID_WORK_CODES[0][:-1], "12 цифр"),
        (VALID_WORK_CODES[0] + "0", "12 цифр"),
        (VALID_WORK_CODES[0][:-1] + "X", "12 цифр"),
        ("4217100000O5", "12 цифр"),  # Latin O among the digits
        (VALID_WORK_CODES[0][:-1] + str((int(VALID_WORK_CODES[0][-1]) + 1) % 10), "контрольная"),
    ],
)
def test_parse_work_code_rejects_wrong_length_letters_and_a_bad_check_digit(
    raw: str, fragment: str
) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_work_code(raw)
    assert_russian_reason(error, "код работы", fragment)
    assert is_valid_work_code(raw) is False


@pytest.mark.parametrize("script", sorted(NON_ASCII_DIGITS))
def test_parse_work_code_rejects_look_alike_digits_with_a_reason_not_a_crash(script: str) -> None:
    raw = to_non_ascii(VALID_WORK_CODES[1], script)
    with pytest.raises(InvalidIdentifier):
        parse_work_code(raw)
    assert is_valid_work_code(raw) is False


# --- МОУО, school and topic codes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "canonical"),
    [
        ("42-05", None, "42-05"),
        ("  42-05 ", None, "42-05"),
        ("42-05", "42", "42-05"),
        ("77-99", "77", "77-99"),
        ("01-01", None, "01-01"),
    ],
)
def test_parse_mouo_code_accepts_region_dash_municipality(
    raw: str, region: str | None, canonical: str
) -> None:
    assert parse_mouo_code(raw, region) == canonical


@pytest.mark.parametrize(
    "raw", ["", "4205", "42_05", "42-5", "4-05", "442-05", "42-055", "42 - 05", "ab-cd", "42–05"]
)
def test_parse_mouo_code_rejects_other_layouts_and_quotes_the_input(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_mouo_code(raw)
    assert_russian_reason(error, f"«{raw}»", "РР-ММ")


@pytest.mark.parametrize("script", sorted(NON_ASCII_DIGITS))
def test_parse_mouo_code_rejects_look_alike_digits(script: str) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_mouo_code(to_non_ascii("42-05", script))


def test_parse_mouo_code_rejects_municipality_zero() -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_mouo_code("42-00")
    assert_russian_reason(error, "00")


@pytest.mark.parametrize(("raw", "region"), [("42-05", "77"), ("77-05", "42"), ("24-05", "42")])
def test_parse_mouo_code_rejects_a_municipality_of_another_region(raw: str, region: str) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_mouo_code(raw, region)
    assert_russian_reason(error, raw, f"региону {region}")


@pytest.mark.parametrize(
    ("raw", "mouo", "canonical"),
    [
        ("4205001", None, "4205001"),
        (" 4205001 ", None, "4205001"),
        ("4205001", "42-05", "4205001"),
        ("7799999", "77-99", "7799999"),
        ("4205100", " 42-05 ", "4205100"),
    ],
)
def test_parse_school_code_accepts_seven_digits_starting_with_its_mouo_code(
    raw: str, mouo: str | None, canonical: str
) -> None:
    assert parse_school_code(raw, mouo) == canonical


@pytest.mark.parametrize(
    "raw", ["", "420500", "42050011", "42-05001", "420500A", "4205 001", "42O5001"]
)
def test_parse_school_code_rejects_anything_but_seven_digits(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_school_code(raw)
    assert_russian_reason(error, "7 цифр")


@pytest.mark.parametrize("script", sorted(NON_ASCII_DIGITS))
def test_parse_school_code_rejects_look_alike_digits(script: str) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_school_code(to_non_ascii("4205001", script))


def test_parse_school_code_rejects_organisation_number_zero() -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_school_code("4205000")
    assert_russian_reason(error, "000")


@pytest.mark.parametrize(
    ("raw", "mouo"), [("4205001", "42-06"), ("4205001", "77-05"), ("0542001", "42-05")]
)
def test_parse_school_code_rejects_a_school_of_another_mouo(raw: str, mouo: str) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_school_code(raw, mouo)
    assert_russian_reason(error, raw, mouo)


@pytest.mark.parametrize("mouo", ["42-00", "4205", ""])
def test_parse_school_code_rejects_an_invalid_mouo_code_given_for_comparison(mouo: str) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_school_code("4205001", mouo)


@pytest.mark.parametrize(
    ("raw", "directions", "canonical"),
    [
        ("101", None, "101"),
        ("999", None, "999"),
        (" 205 ", None, "205"),
        ("110", None, "110"),
        ("205", frozenset({1, 2, 3}), "205"),
        ("512", frozenset({5}), "512"),
    ],
)
def test_parse_topic_number_accepts_direction_then_two_digit_topic(
    raw: str, directions: frozenset[int] | None, canonical: str
) -> None:
    assert parse_topic_number(raw, directions) == canonical


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "3 цифры"),
        ("10", "3 цифры"),
        ("1001", "3 цифры"),
        ("1O1", "3 цифры"),  # Latin O
        ("1 01", "3 цифры"),
        ("-12", "3 цифры"),
        ("001", "начинаются с 1"),
        ("099", "начинаются с 1"),
        ("100", "начинаются с 1"),
        ("900", "начинаются с 1"),
    ],
)
def test_parse_topic_number_rejects_bad_layouts_and_zero_parts(raw: str, fragment: str) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_topic_number(raw)
    assert_russian_reason(error, "номер темы", fragment)


@pytest.mark.parametrize(
    ("raw", "directions"),
    [("405", frozenset({1, 2, 3})), ("101", frozenset({2})), ("305", frozenset())],
)
def test_parse_topic_number_rejects_a_direction_not_offered_in_the_session(
    raw: str, directions: frozenset[int]
) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_topic_number(raw, directions)
    assert_russian_reason(error, raw, f"нет направления {raw[0]}")


@pytest.mark.parametrize("script", sorted(NON_ASCII_DIGITS))
def test_parse_topic_number_rejects_look_alike_digits_with_a_reason_not_a_crash(
    script: str,
) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_topic_number(to_non_ascii("205", script))


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("иванов", "Иванов"),
        ("ИВАНОВ", "Иванов"),
        ("иВаНоВ", "Иванов"),
        ("  Иванов  ", "Иванов"),
        (" иванова-петрова ", "Иванова-Петрова"),
        ("РИМСКОГО-КОРСАКОВА", "Римского-Корсакова"),
        ("анна   мария", "Анна Мария"),
        ("\tанна\u00a0\nмария\r\n", "Анна Мария"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalize_name_trims_folds_spaces_and_capitalises_each_part(
    raw: str, normalized: str
) -> None:
    assert normalize_name(raw) == normalized


def test_normalize_name_is_idempotent() -> None:
    for raw in [" иванова-петрова ", "АННА  МАРИЯ", "семёнов", "Д'артаньян"]:
        once = normalize_name(raw)
        assert normalize_name(once) == once


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("Иванов", "Иванов"),
        ("  иВАНОВ ", "Иванов"),
        ("Римского-Корсакова", "Римского-Корсакова"),
        ("римского-корсакова", "Римского-Корсакова"),
        ("Ёлкин", "Ёлкин"),
        ("СЕМЁНОВ", "Семёнов"),
        ("ёжикова", "Ёжикова"),
        ("Анна  Мария", "Анна Мария"),
        ("Ян", "Ян"),
    ],
)
def test_parse_name_accepts_russian_names_after_normalising_noise(raw: str, parsed: str) -> None:
    assert parse_name(raw) == parsed


@pytest.mark.parametrize("raw", ["Семёнов", "Йошкин", "Алексей Ёлкин-Зайцев"])
def test_parse_name_accepts_letters_typed_as_a_base_letter_plus_combining_mark(raw: str) -> None:
    decomposed = unicodedata.normalize("NFD", raw)
    assert decomposed != raw  # the input really is decomposed
    assert parse_name(decomposed) == raw


@pytest.mark.parametrize(
    ("raw", "letter", "position"),
    [
        ("Иванoв", "o", 5),  # Latin o among Cyrillic letters
        ("  Иванoв", "o", 5),  # position counts in the cleaned name
        ("ИВАНOВ", "o", 5),  # upper-case Latin O, lowered by normalisation
        ("Cидоров", "C", 1),  # Latin C at the start
        ("Петрова-Boдкина", "B", 9),
        ("Ivanov", "I", 1),
        ("Петрoва", "o", 5),
    ],
)
def test_parse_name_rejects_a_latin_look_alike_and_names_the_letter_and_its_position(
    raw: str, letter: str, position: int
) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_name(raw)
    assert_russian_reason(error, "фамилия", "латинская", f"«{letter}»", f"позиции {position}")


def test_parse_name_puts_the_field_name_into_the_reason() -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_name("Пётр0", field="имя")
    assert error.value.reason.startswith("имя:")
    assert "фамилия" not in error.value.reason


@pytest.mark.parametrize(
    ("raw", "character", "position"),
    [
        ("Иванов2", "2", 7),
        ("1ванов", "1", 1),
        ("Иван0в", "0", 5),
        ("Іванов", "І", 1),  # Ukrainian І is Cyrillic but not Russian
        ("Иванов.", ".", 7),
        ("Иванов_Петров", "_", 7),
        ("Иванοв", "ο", 5),  # Greek omicron
    ],
)
def test_parse_name_rejects_digits_and_other_symbols_and_names_them(
    raw: str, character: str, position: int
) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_name(raw)
    assert_russian_reason(error, "недопустимый символ", f"«{character}»", f"позиции {position}")


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_parse_name_rejects_an_empty_name(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_name(raw, field="отчество")
    assert_russian_reason(error, "отчество", "не заполнено")


@pytest.mark.parametrize("raw", ["-", "-Иванов", "Иванов-", "Иванова--Петрова", "'Иванов"])
def test_parse_name_rejects_a_dash_or_apostrophe_out_of_place(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_name(raw)
    assert_russian_reason(error, "не на своём месте")


def test_spaces_around_a_hyphen_in_a_double_surname_are_cleaned_up() -> None:
    assert parse_name("Римского - Корсакова") == "Римского-Корсакова"


def test_a_foreign_document_number_is_stored_in_one_letter_case() -> None:
    lower = parse_document("foreign_passport", "", "ab123")
    upper = parse_document("foreign_passport", "", "AB123")
    assert lower == upper


def test_a_school_code_with_municipality_00_is_refused() -> None:
    with pytest.raises(InvalidIdentifier, match="00"):
        parse_school_code("4200123")


@pytest.mark.parametrize("year", [1999, 2100])
def test_a_work_code_for_a_year_out_of_range_is_refused(year: int) -> None:
    with pytest.raises(InvalidIdentifier, match="учебный год"):
        make_work_code("42", year, 1, 1)
