"""Identifiers of the regional database: СНИЛС, identity documents, work codes, codes, names.

Every `parse_*` function takes raw text as a municipality would type it, returns the canonical
form, and raises `InvalidIdentifier` with a Russian reason otherwise. `is_valid_*` wrap them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from tasks.errors import InvalidIdentifier

__all__ = [
    "DocumentType",
    "IdentityDocument",
    "damm_check_digit",
    "format_snils",
    "is_valid_snils",
    "is_valid_work_code",
    "make_work_code",
    "normalize_name",
    "parse_document",
    "parse_mouo_code",
    "parse_name",
    "parse_school_code",
    "parse_snils",
    "parse_topic_number",
    "parse_work_code",
    "snils_check_number",
]

_SPACES = re.compile(r"\s+")
_NON_DIGITS = re.compile(r"[\s\-]")


def _is_digits(text: str) -> bool:
    """Only the ASCII digits 0-9: `str.isdigit` also passes '²', '４', '٤' and the like."""
    return text.isascii() and text.isdigit()


# --- СНИЛС -------------------------------------------------------------------------------------

# Check numbers are defined only for numbers above 001-001-998 (Pension Fund rule).
_SNILS_CHECKED_FROM = 1_001_998


def snils_check_number(first_nine: str) -> int:
    """Check number of a СНИЛС from its first nine digits (weights 9…1, then mod 101, 100 → 0)."""
    if len(first_nine) != 9 or not _is_digits(first_nine):
        raise InvalidIdentifier("СНИЛС: первые девять знаков должны быть цифрами")
    total = sum(
        int(digit) * weight for digit, weight in zip(first_nine, range(9, 0, -1), strict=True)
    )
    if total < 100:
        return total
    if total in (100, 101):
        return 0
    remainder = total % 101
    return 0 if remainder == 100 else remainder


def parse_snils(raw: str) -> str:
    """Canonical 11-digit СНИЛС from '123-456-789 64', '12345678964' and the like."""
    digits = _NON_DIGITS.sub("", raw.strip())
    if not digits:
        raise InvalidIdentifier("СНИЛС не указан")
    if not _is_digits(digits):
        raise InvalidIdentifier("СНИЛС должен состоять из цифр")
    if len(digits) != 11:
        raise InvalidIdentifier(f"СНИЛС должен содержать 11 цифр, указано {len(digits)}")
    body, check = digits[:9], int(digits[9:])
    if int(body) <= _SNILS_CHECKED_FROM:
        raise InvalidIdentifier("СНИЛС: номер из недопустимого диапазона")
    if snils_check_number(body) != check:
        raise InvalidIdentifier("СНИЛС: неверное контрольное число")
    return digits


def is_valid_snils(raw: str) -> bool:
    try:
        parse_snils(raw)
    except InvalidIdentifier:
        return False
    return True


def format_snils(snils: str) -> str:
    """'12345678964' → '123-456-789 64' (the printed form)."""
    digits = parse_snils(snils)
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:]}"


# --- identity documents ------------------------------------------------------------------------


class DocumentType(StrEnum):
    """Identity documents accepted at registration."""

    PASSPORT_RF = "passport_rf"  # паспорт гражданина РФ: series 4 digits, number 6 digits
    BIRTH_CERTIFICATE = "birth_certificate"  # свидетельство о рождении: 'IV-МЮ', number 6 digits
    FOREIGN_PASSPORT = "foreign_passport"  # документ иностранного гражданина: free-form
    OTHER = "other"  # иной документ: free-form


DOCUMENT_TYPE_NAMES_RU: dict[DocumentType, str] = {
    DocumentType.PASSPORT_RF: "паспорт гражданина РФ",
    DocumentType.BIRTH_CERTIFICATE: "свидетельство о рождении",
    DocumentType.FOREIGN_PASSPORT: "документ иностранного гражданина",
    DocumentType.OTHER: "иной документ",
}

_BIRTH_CERT_SERIES = re.compile(r"^[IVXLC]{1,4}-[А-ЯЁ]{2}$")
_FREE_FORM = re.compile(r"^[0-9A-ZА-ЯЁ\-]{1,20}$")


@dataclass(frozen=True, slots=True)
class IdentityDocument:
    type: DocumentType
    series: str
    number: str


def parse_document(doc_type: str, series: str, number: str) -> IdentityDocument:
    """Validated identity document; series and number are stripped of spaces."""
    try:
        kind = DocumentType(doc_type.strip())
    except ValueError:
        raise InvalidIdentifier(f"неизвестный тип документа «{doc_type}»") from None
    series = series.replace(" ", "").strip().upper()
    number = number.replace(" ", "").strip().upper()
    if kind is DocumentType.PASSPORT_RF:
        if not (len(series) == 4 and _is_digits(series)):
            raise InvalidIdentifier("серия паспорта РФ: 4 цифры")
        if not (len(number) == 6 and _is_digits(number)):
            raise InvalidIdentifier("номер паспорта РФ: 6 цифр")
    elif kind is DocumentType.BIRTH_CERTIFICATE:
        if not _BIRTH_CERT_SERIES.match(series):
            raise InvalidIdentifier(
                "серия свидетельства о рождении: римские цифры, дефис и две русские буквы (IV-МЮ)"
            )
        if not (len(number) == 6 and _is_digits(number)):
            raise InvalidIdentifier("номер свидетельства о рождении: 6 цифр")
    else:
        if series and not _FREE_FORM.match(series):
            raise InvalidIdentifier("серия документа содержит недопустимые символы")
        if not number or not _FREE_FORM.match(number.upper()):
            raise InvalidIdentifier("номер документа не указан или содержит недопустимые символы")
    return IdentityDocument(kind, series, number)


# --- work code ---------------------------------------------------------------------------------

# Damm's quasigroup table: the check digit catches every single-digit error and every adjacent
# transposition, the two mistakes people make when copying a code by hand.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

WORK_CODE_LENGTH = 12  # region 2 + school year 2 + session 1 + serial 6 + check 1


def damm_check_digit(digits: str) -> int:
    interim = 0
    for digit in digits:
        interim = _DAMM[interim][int(digit)]
    return interim


def make_work_code(region_code: str, year: int, session_no: int, serial: int) -> str:
    """Work code of a kit: RR YY S NNNNNN C (12 digits, Damm check digit last).

    `year` is the school year's first calendar year (2017 for 2017/18); `session_no` 1-9 is the
    session's ordinal within the school year; `serial` 0-999999 is unique within the session.
    """
    if not (len(region_code) == 2 and _is_digits(region_code)):
        raise InvalidIdentifier("код региона: 2 цифры")
    if not 1 <= session_no <= 9:
        raise InvalidIdentifier("номер этапа: от 1 до 9")
    if not 0 <= serial <= 999_999:
        raise InvalidIdentifier("порядковый номер комплекта: от 0 до 999999")
    if not 2000 <= year <= 2099:
        raise InvalidIdentifier("учебный год: от 2000 до 2099")
    body = f"{region_code}{year % 100:02d}{session_no}{serial:06d}"
    return body + str(damm_check_digit(body))


def parse_work_code(raw: str) -> str:
    code = _NON_DIGITS.sub("", raw.strip())
    if len(code) != WORK_CODE_LENGTH or not _is_digits(code):
        raise InvalidIdentifier(f"код работы: {WORK_CODE_LENGTH} цифр")
    if damm_check_digit(code) != 0:
        raise InvalidIdentifier("код работы: неверная контрольная цифра")
    return code


def is_valid_work_code(raw: str) -> bool:
    try:
        parse_work_code(raw)
    except InvalidIdentifier:
        return False
    return True


# --- МОУО, school and topic codes --------------------------------------------------------------

_MOUO_CODE = re.compile(r"^([0-9]{2})-([0-9]{2})$")
_SCHOOL_CODE = re.compile(r"^[0-9]{7}$")


def parse_mouo_code(raw: str, region_code: str | None = None) -> str:
    """МОУО code 'RR-MM': region code and municipality number, e.g. '42-05'."""
    code = raw.strip()
    match = _MOUO_CODE.match(code)
    if not match:
        raise InvalidIdentifier(f"код МОУО «{raw}»: ожидается формат РР-ММ, например 42-05")
    if match.group(2) == "00":
        raise InvalidIdentifier("код МОУО: номер муниципалитета не может быть 00")
    if region_code is not None and match.group(1) != region_code:
        raise InvalidIdentifier(f"код МОУО «{code}» не относится к региону {region_code}")
    return code


def parse_school_code(raw: str, mouo_code: str | None = None) -> str:
    """School (ОО) code 'RRMMSSS': 7 digits, the first four repeat its МОУО code."""
    code = raw.strip()
    if not _SCHOOL_CODE.match(code):
        raise InvalidIdentifier(f"код ОО «{raw}»: ожидается 7 цифр")
    if code[2:4] == "00":
        raise InvalidIdentifier(f"код ОО «{code}»: номер муниципалитета не может быть 00")
    if code[4:] == "000":
        raise InvalidIdentifier("код ОО: номер организации не может быть 000")
    if mouo_code is not None and code[:4] != parse_mouo_code(mouo_code).replace("-", ""):
        raise InvalidIdentifier(f"ОО {code} не относится к МОУО {mouo_code}")
    return code


def parse_topic_number(raw: str, directions: frozenset[int] | None = None) -> str:
    """Essay topic number: 3 digits, the thematic direction (1-9) then the topic (01-99)."""
    code = raw.strip()
    if len(code) != 3 or not _is_digits(code):
        raise InvalidIdentifier("номер темы: 3 цифры")
    direction, topic = int(code[0]), int(code[1:])
    if direction == 0 or topic == 0:
        raise InvalidIdentifier("номер темы: направление и тема начинаются с 1")
    if directions is not None and direction not in directions:
        raise InvalidIdentifier(f"номер темы {code}: нет направления {direction} в этом этапе")
    return code


# --- names -------------------------------------------------------------------------------------

_CYRILLIC = frozenset("АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя")
_NAME = re.compile(r"^[А-ЯЁа-яё]+(?:[\- '][А-ЯЁа-яё]+)*$")


_SPACED_HYPHEN = re.compile(r"\s*-\s*")


def normalize_name(raw: str) -> str:
    """Trim, fold runs of spaces, capitalise each part: ' иванова-петрова ' → 'Иванова-Петрова'."""
    text = _SPACES.sub(" ", unicodedata.normalize("NFC", raw).strip())
    text = _SPACED_HYPHEN.sub("-", text)  # 'Римского - Корсакова' → 'Римского-Корсакова'
    return "-".join(
        " ".join(word[:1].upper() + word[1:].lower() for word in part.split(" "))
        for part in text.split("-")
    )


def parse_name(raw: str, field: str = "фамилия") -> str:
    """A surname, name or patronymic in Cyrillic only; a Latin look-alike is named in the reason."""
    text = normalize_name(raw)
    if not text:
        raise InvalidIdentifier(f"{field}: не заполнено")
    for position, char in enumerate(text, start=1):
        if char.isascii() and char.isalpha():
            raise InvalidIdentifier(
                f"{field}: латинская буква «{char}» в позиции {position}, нужна русская"
            )
        if char not in _CYRILLIC and char not in "- '":
            raise InvalidIdentifier(
                f"{field}: недопустимый символ «{char}» в позиции {position}; "
                "допускаются только русские буквы, дефис, пробел и апостроф"
            )
    if not _NAME.match(text):
        raise InvalidIdentifier(f"{field}: дефис, пробел или апостроф не на своём месте")
    return text
