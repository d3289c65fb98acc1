"""The inform stage's data: results lines, lists per school and МОУО, statistics, retake list.

Everything here is pure: the flow gathers `ResultLine`s from the regional database and hands
them in; the PDF, chart and XLSX builders draw what these functions return. Outcomes are the
final ones of verification (`tasks.domain.verify.OUTCOMES_RU`); «unresolved» is refused, as in
the federal package: results are not published before the verification queue is empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from tasks.domain.participants import CATEGORY_NAMES_RU, FORM_NAMES_RU, Category, Form
from tasks.errors import DataError

__all__ = [
    "MARK_GROUPS",
    "MARK_HEADERS_RU",
    "OUTCOMES",
    "OUTCOME_SHORT_RU",
    "ResultLine",
    "RetakeLine",
    "SessionInfo",
    "Statistics",
    "Tally",
    "by_mouo",
    "by_school",
    "check_lines",
    "form_text",
    "full_name",
    "mark_letter",
    "pass_rate",
    "percent_text",
    "result_text",
    "retake_list",
    "statistics",
    "tally",
]

# Every final outcome, in the order reports show them.
OUTCOMES = ("passed", "failed", "absent", "not_finished", "removed", "not_graded", "no_record")
# Short forms for lists (the long ones of verify.OUTCOMES_RU do not fit a table cell).
OUTCOME_SHORT_RU: dict[str, str] = {
    "passed": "зачет",
    "failed": "незачет",
    "absent": "не явился",
    "not_finished": "не закончил",
    "removed": "удален",
    "not_graded": "не оценено",
    "no_record": "нет сведений",
}
# Outcomes of a participant who was in the room (no_record: attendance unknown, not counted).
_PRESENT = frozenset({"passed", "failed", "not_finished", "removed", "not_graded"})

# The marks shown in lists, in the order of the registration blank.
MARK_GROUPS = ("requirement_1", "requirement_2", "k1", "k2", "k3", "k4", "k5")
MARK_HEADERS_RU: dict[str, str] = {
    "requirement_1": "Т1",
    "requirement_2": "Т2",
    "k1": "К1",
    "k2": "К2",
    "k3": "К3",
    "k4": "К4",
    "k5": "К5",
}
_CATEGORIES = frozenset(Category)
_FORMS = frozenset(Form)
_MARK_LETTERS = {"зачет": "з", "незачет": "н"}
_NO_MARK = "–"


@dataclass(frozen=True, slots=True)
class ResultLine:
    """One participant's result in a session, with where they study and where they wrote."""

    work_code: str
    surname: str
    name: str
    patronymic: str | None
    category: str  # a Category value
    mouo_code: str  # the participant's МОУО (a graduate of past years: of residence)
    mouo_name: str
    school_code: str | None  # the participant's own school; None for graduates etc.
    school_name: str | None
    venue_code: str  # the school where the work was written
    venue_name: str
    class_name: str | None
    form: str  # a Form value
    oral: bool
    attempt: int  # 1, 2, 3 within the school year
    outcome: str  # one of OUTCOMES
    marks: Mapping[str, str] | None  # group -> «зачет»/«незачет»


@dataclass(frozen=True, slots=True)
class SessionInfo:
    region_code: str
    region_name: str
    session: str  # session id, "2017-12-06"
    exam_date: date
    label: str  # «основной срок (1 этап)»
    school_year: str  # "2017/18"
    procedure: str  # "ИС-11"


def check_lines(lines: Iterable[ResultLine]) -> None:
    """Raise DataError on a line no report can show: an unknown or unfinished outcome, an
    unknown category or form, an attempt out of 1…9."""
    for line in lines:
        if line.outcome not in OUTCOME_SHORT_RU:
            raise DataError(
                f"работа {line.work_code}: результат «{line.outcome}» не окончательный или "
                "неизвестен (информирование только после завершения верификации)"
            )
        if line.category not in _CATEGORIES:
            raise DataError(f"работа {line.work_code}: неизвестная категория «{line.category}»")
        if line.form not in _FORMS:
            raise DataError(f"работа {line.work_code}: неизвестная форма «{line.form}»")
        if not 1 <= line.attempt <= 9:
            raise DataError(f"работа {line.work_code}: номер попытки {line.attempt} вне 1…9")


def _name_key(line: ResultLine) -> tuple[str, str, str, str]:
    # «ё» sorts as «е», as in Russian dictionaries (its code point is after «я»).
    def fold(text: str | None) -> str:
        return (text or "").casefold().replace("ё", "е")

    return fold(line.surname), fold(line.name), fold(line.patronymic), line.work_code


def full_name(line: ResultLine) -> str:
    return " ".join(p for p in (line.surname, line.name, line.patronymic) if p)


def by_school(lines: Iterable[ResultLine]) -> dict[str, list[ResultLine]]:
    """Lines of participants with a school, by that school's code (sorted), each list sorted by
    surname, name, patronymic, work code. Graduates of past years and others without a school
    are in no school's list: they learn their results at their МОУО."""
    groups: dict[str, list[ResultLine]] = {}
    for line in lines:
        if line.school_code is not None:
            groups.setdefault(line.school_code, []).append(line)
    return {code: sorted(groups[code], key=_name_key) for code in sorted(groups)}


def by_mouo(lines: Iterable[ResultLine]) -> dict[str, list[ResultLine]]:
    """All lines of each МОУО (sorted by code), graduates of past years included at the МОУО of
    their residence (DOMAIN §8). Within a МОУО: school by school (by code), those without a
    school last (the ones who come to the МОУО in person), alphabetically within each."""
    groups: dict[str, list[ResultLine]] = {}
    for line in lines:
        groups.setdefault(line.mouo_code, []).append(line)

    def key(line: ResultLine) -> tuple[bool, str, tuple[str, str, str, str]]:
        return line.school_code is None, line.school_code or "", _name_key(line)

    return {code: sorted(groups[code], key=key) for code in sorted(groups)}


def result_text(line: ResultLine) -> str:
    """«зачет», «незачет», «не явился», «не закончил», «удален», «не оценено», «нет сведений»."""
    try:
        return OUTCOME_SHORT_RU[line.outcome]
    except KeyError:
        raise DataError(
            f"работа {line.work_code}: результат «{line.outcome}» не окончательный или неизвестен"
        ) from None


def mark_letter(line: ResultLine, group: str) -> str:
    """«з» / «н» for a graded group, «–» where there is no mark (not graded, flagged works)."""
    if line.marks is None:
        return _NO_MARK
    return _MARK_LETTERS.get(line.marks.get(group, ""), _NO_MARK)


def form_text(line: ResultLine) -> str:
    """«сочинение», «изложение», «изложение (устно)»."""
    text = FORM_NAMES_RU[Form(line.form)]
    return f"{text} (устно)" if line.oral else text


# --- statistics --------------------------------------------------------------------------------


def pass_rate(passed: int, graded: int) -> float | None:
    """Percent of «зачет» among the graded, one decimal rounded half up; None if none graded."""
    if graded == 0:
        return None
    rate = (Decimal(100 * passed) / Decimal(graded)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return float(rate)


def percent_text(rate: float | None) -> str:
    """«93,4 %» (Russian decimal comma), «—» when nobody was graded."""
    return "—" if rate is None else f"{rate:.1f}".replace(".", ",") + " %"


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts of one row of a report: the region, a МОУО, a school, a category or a form."""

    code: str
    name: str
    outcomes: Mapping[str, int]  # every key of OUTCOMES, zeros included
    mouo_code: str | None = None  # the МОУО of a school's row

    @property
    def participants(self) -> int:
        return sum(self.outcomes.values())

    @property
    def wrote(self) -> int:
        """Present in the room: graded, not finished, removed or not graded (no_record: unknown
        attendance, and absent, are not)."""
        return sum(n for outcome, n in self.outcomes.items() if outcome in _PRESENT)

    @property
    def passed(self) -> int:
        return self.outcomes["passed"]

    @property
    def failed(self) -> int:
        return self.outcomes["failed"]

    @property
    def graded(self) -> int:
        return self.passed + self.failed

    @property
    def without_result(self) -> int:
        """Neither «зачет» nor «незачет»: absent, not finished, removed, not graded, no record."""
        return self.participants - self.graded

    @property
    def pass_rate(self) -> float | None:
        return pass_rate(self.passed, self.graded)


def tally(code: str, name: str, lines: Iterable[ResultLine], mouo_code: str | None = None) -> Tally:
    counts = dict.fromkeys(OUTCOMES, 0)
    for line in lines:
        if line.outcome not in counts:
            result_text(line)  # raises the readable error
        counts[line.outcome] += 1
    return Tally(code, name, counts, mouo_code)


@dataclass(frozen=True, slots=True)
class Statistics:
    """The session's statistics. Schools are the participants' own schools (graduates of past
    years count in their МОУО of residence and in no school); categories and forms appear only
    when someone of them took part, in the order of Category / Form."""

    total: Tally  # the region
    by_mouo: tuple[Tally, ...]  # by МОУО code
    by_school: tuple[Tally, ...]  # by МОУО code, then school code
    by_category: tuple[Tally, ...]  # code: a Category value, name: its Russian name
    by_form: tuple[Tally, ...]  # code: a Form value, name: «сочинение» / «изложение»
    oral: Tally  # of them, those who took it orally


def statistics(lines: Sequence[ResultLine], region_name: str = "Регион") -> Statistics:
    """Counts and pass rates of a session's results lines (see Statistics)."""
    check_lines(lines)
    mouos = by_mouo(lines)
    schools = by_school(lines)
    school_rows = sorted(
        (
            tally(code, group[0].school_name or "", group, group[0].mouo_code)
            for code, group in schools.items()
        ),
        key=lambda row: (row.mouo_code or "", row.code),
    )
    return Statistics(
        total=tally("", region_name, lines),
        by_mouo=tuple(tally(code, group[0].mouo_name, group) for code, group in mouos.items()),
        by_school=tuple(school_rows),
        by_category=tuple(
            tally(c.value, CATEGORY_NAMES_RU[c], [x for x in lines if x.category == c])
            for c in Category
            if any(x.category == c for x in lines)
        ),
        by_form=tuple(
            tally(f.value, FORM_NAMES_RU[f], [x for x in lines if x.form == f])
            for f in Form
            if any(x.form == f for x in lines)
        ),
        oral=tally("oral", "в устной форме", [x for x in lines if x.oral]),
    )


# --- retakes -----------------------------------------------------------------------------------

_RETAKE_REASONS: dict[str, tuple[str, bool]] = {
    "failed": ("незачет", False),
    "removed": ("удален с экзамена (ИС-09)", False),
    "not_finished": ("не закончил по уважительной причине (ИС-08)", False),
    "absent": ("не явился — при подтверждении уважительной причины", True),
}


@dataclass(frozen=True, slots=True)
class RetakeLine:
    line: ResultLine
    reason: str  # Russian, «незачет», «удален с экзамена (ИС-09)», …
    conditional: bool  # True: admitted only with a document confirming a valid reason


def retake_list(
    lines: Iterable[ResultLine], next_session: str | None, attempts_limit: int = 3
) -> list[RetakeLine]:
    """Who may write again in `next_session` of the same school year (DOMAIN §4), sorted by
    МОУО, school (none last) and name.

    - «незачет»: yes; removed for violating the rules (ИС-09): yes;
    - not finished for a valid reason: yes, unconditionally — «Не закончил» is only set with an
      ИС-08 act, which is the document;
    - absent: only with a document confirming a valid reason (`conditional`);
    - passed: never; anyone whose `attempt` already reached `attempts_limit`: never (after a
      «незачет» at most two more attempts a year, on scheduled dates only);
    - not graded / no room record: not listed. The fault is not the participant's and what they
      need is their result (the work is graded or the record found), not a retake; listing them
      would invite a second attempt that annuls a first one never judged;
    - `next_session` None (the year's last session): nobody.
    """
    if attempts_limit < 1:
        raise DataError(f"предельное число попыток {attempts_limit}: должно быть не меньше 1")
    if next_session is None:
        return []
    chosen = [
        RetakeLine(line, *_RETAKE_REASONS[line.outcome])
        for line in lines
        if line.outcome in _RETAKE_REASONS and line.attempt < attempts_limit
    ]

    def key(item: RetakeLine) -> tuple[str, bool, str, tuple[str, str, str, str]]:
        line = item.line
        return line.mouo_code, line.school_code is None, line.school_code or "", _name_key(line)

    return sorted(chosen, key=key)
