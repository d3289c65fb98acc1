"""The exam day, simulated: what happens to every printed kit and what is written on its pages.

Pure decisions for the exam-day simulator (docs/exam-day-simulator.md). From the print
manifest and a seed: who came, who did not finish («Не закончил», act ИС-08) or was removed
(«Удален», ИС-09), who wrote orally (ОВЗ only), which topic, how many words on how many answer
blanks and additional blanks from the room's stack, what the commission and the experts marked
(DOMAIN.md §5, §6) and what the transcriber copied onto the original (with a few errors); then,
page by page, every handwritten digit, mark, text line and «Z» the adapters draw; and the
ground truth and room records (ИС-05 data) the later stages are measured against.

Randomness: `random.Random` seeded with strings (run seed + the decision + the code), so every
work's fate depends on the seed and its own code only, never on the order of the others.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from tasks.domain.blanks import PAGES, BlankType, FieldKind, layout_for
from tasks.domain.exam_day_scans import ScanPlan, mm_to_px, page_size_px
from tasks.domain.identifiers import parse_topic_number
from tasks.errors import DataError

__all__ = [
    "CRITERIA",
    "DEFAULT_TOPICS",
    "GROUPS",
    "SCHEMA_VERSION",
    "DigitEntry",
    "ExamDayOptions",
    "IssuedAdditional",
    "IssuedWork",
    "MarkEntry",
    "PageInk",
    "PrintManifest",
    "PrintedPage",
    "WorkOutcome",
    "WriterStyle",
    "commissions",
    "decide_works",
    "exam_day_options",
    "expert_protocols",
    "ground_truth",
    "ink_pages",
    "overall_2017",
    "page_key",
    "read_manifest",
    "room_records",
    "scanned_pages",
    "text_lines",
    "writers",
]

SCHEMA_VERSION = 1
PASS, FAIL = "зачет", "незачет"
GROUPS = ("requirement_1", "requirement_2", "k1", "k2", "k3", "k4", "k5", "overall")
CRITERIA = ("k1", "k2", "k3", "k4", "k5")
# Volume requirement (DOMAIN.md §6): an essay under 250 words, an exposition under 150 fails.
MIN_WORDS = {"essay": 250, "exposition": 150}
# The five thematic directions of 2017/18, one topic each: used when neither --topics nor the
# session's topics file gives the numbers.
DEFAULT_TOPICS = ("101", "201", "301", "401", "501")
TEXT_MARGIN_MM = 1.5  # writers keep this far from the text area's sides


def page_key(blank_type: BlankType | str, code: str, page: int) -> str:
    """`answer-1:421710123453`: one printed page (blank type, side, code)."""
    return f"{blank_type}-{page}:{code}"


# --- the print manifest ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrintedPage:
    school_code: str
    file: str  # the school's kits PDF, relative to the print folder
    index: int  # 0-based page in that PDF
    blank_type: BlankType
    page: int
    code: str
    room: str | None

    @property
    def key(self) -> str:
        return page_key(self.blank_type, self.code, self.page)


@dataclass(frozen=True, slots=True)
class IssuedWork:
    work_code: str
    school_code: str
    room: str | None
    kind: str  # kit | reserve
    form: str  # essay | exposition
    oral: bool  # registered for the oral form
    ovz: bool


@dataclass(frozen=True, slots=True)
class IssuedAdditional:
    code: str
    school_code: str
    room: str | None


@dataclass(frozen=True, slots=True)
class PrintManifest:
    session: str
    region: str
    pages: tuple[PrintedPage, ...]
    works: tuple[IssuedWork, ...]
    additional: tuple[IssuedAdditional, ...]

    def schools(self) -> list[str]:
        return sorted({p.school_code for p in self.pages})


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise DataError(f"манифест печати: нет поля «{what}»")
    return value


def read_manifest(data: Mapping[str, Any]) -> PrintManifest:
    """The print manifest (print stage, `manifest.json`) as the simulator needs it; a manifest
    whose pages do not match its works and additional blanks is refused."""
    if data.get("schema_version") != 1:
        raise DataError(f"манифест печати: версия {data.get('schema_version')!r} не поддержана")
    try:
        pages = tuple(
            PrintedPage(
                school_code=_text(f["school_code"], "school_code"),
                file=_text(f["path"], "path"),
                index=i,
                blank_type=BlankType(p["blank_type"]),
                page=int(p["page"]),
                code=_text(p["code"], "code"),
                room=p.get("room"),
            )
            for f in data["files"]
            for i, p in enumerate(f["pages"])
        )
        works = tuple(
            IssuedWork(
                work_code=_text(w["work_code"], "work_code"),
                school_code=_text(w["school_code"], "school_code"),
                room=w.get("room"),
                kind=w.get("kind", "kit"),
                form=w.get("form") or "essay",
                oral=bool(w.get("oral", False)),
                ovz=bool(w.get("ovz", False)),
            )
            for w in data["works"]
        )
        additional = tuple(
            IssuedAdditional(
                _text(a["code"], "code"), _text(a["school_code"], "school_code"), a.get("room")
            )
            for a in data.get("additional", [])
        )
        manifest = PrintManifest(
            _text(data["session"], "session"),
            str(data.get("region", "")),
            pages,
            works,
            additional,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"манифест печати не читается: {exc!r}") from exc
    _check_manifest(manifest)
    return manifest


def _check_manifest(manifest: PrintManifest) -> None:
    keys = [p.key for p in manifest.pages]
    if len(set(keys)) != len(keys):
        raise DataError("манифест печати: страница напечатана дважды")
    expected = {
        page_key(t, w.work_code, n)
        for w in manifest.works
        for t in (BlankType.REGISTRATION, BlankType.ANSWER)
        for n in range(1, PAGES[t] + 1)
    } | {
        page_key(BlankType.ADDITIONAL, a.code, n)
        for a in manifest.additional
        for n in range(1, PAGES[BlankType.ADDITIONAL] + 1)
    }
    if expected != set(keys):
        raise DataError(
            "манифест печати: страницы не совпадают с комплектами и доп. бланками "
            f"(нет {len(expected - set(keys))}, лишних {len(set(keys) - expected)})"
        )
    for w in manifest.works:
        if w.kind not in ("kit", "reserve") or w.form not in MIN_WORDS:
            raise DataError(f"манифест печати: работа {w.work_code}: вид {w.kind}, форма {w.form}")


# --- options and writers -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExamDayOptions:
    """Shares of what happens on the exam day (each from 0 to 1)."""

    seed: int = 42
    topics: tuple[str, ...] = DEFAULT_TOPICS
    absent: float = 0.04  # participants who do not come (their blanks come back empty)
    not_finished: float = 0.01  # «Не закончил» with act ИС-08, among those present
    removed: float = 0.005  # «Удален» with act ИС-09, among those present
    oral_unregistered: float = 0.02  # ОВЗ participants who choose the oral form on the day
    short: float = 0.04  # works under the volume requirement (Требование 1 fails)
    not_independent: float = 0.01  # Требование 2 fails (copied text)
    transcription_errors: float = 0.02  # graded works whose original differs from the copy
    cancelled_marks: float = 0.03  # graded works with a mark cancelled (box filled) and redone
    code_errors: float = 0.005  # answer blanks on which the work code is written wrongly
    writers: int = 24  # handwriting styles
    scan_unused: bool = True  # unused reserve kits and additional blanks are scanned, empty

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, float) and not 0.0 <= value <= 1.0:
                raise DataError(f"параметр {item.name}: доля от 0 до 1")
        if self.not_finished + self.removed > 1:
            raise DataError("доли «Не закончил» и «Удален» вместе не больше 1")
        if not self.topics:
            raise DataError("нужна хотя бы одна тема")
        for topic in self.topics:
            parse_topic_number(topic)
        if not 1 <= self.writers <= 1000:
            raise DataError("почерков: от 1 до 1000")

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["topics"] = list(self.topics)
        return out


def exam_day_options(
    seed: int, topics: Sequence[str] | None, overrides: Mapping[str, Any] | None = None
) -> ExamDayOptions:
    """Options from a run's parameters; an unknown name or a bad value is refused."""
    values = dict(overrides or {})
    known = {f.name for f in fields(ExamDayOptions)} - {"seed", "topics"}
    unknown = set(values) - known
    if unknown:
        raise DataError(f"неизвестные параметры дня экзамена: {', '.join(sorted(unknown))}")
    for name in known & set(values):
        default = getattr(ExamDayOptions(), name)
        values[name] = type(default)(values[name])
    chosen = tuple(topics) if topics else DEFAULT_TOPICS
    return ExamDayOptions(seed=seed, topics=chosen, **values)


@dataclass(frozen=True, slots=True)
class WriterStyle:
    """One hand: how it writes digits, marks and words (millimetres unless said)."""

    id: str
    font: str  # "skeleton" (own strokes), "hershey", "hershey-italic"
    slant: float  # shear of upright strokes (x per unit of height, to the right)
    stroke_mm: float
    size: float  # digit height as a share of the cell height
    jitter: float  # wobble of control points, as a share of the digit size
    offset: float  # how far a digit strays from the cell centre, as a share of the cell
    ink: int  # grey level of the ink (0 black)
    letter_mm: float  # advance of one letter in cursive
    word_gap_mm: float
    x_height_mm: float
    loop: float  # how loopy the cursive is (0.1 flat, 0.35 round loops)
    mark: str  # "cross" or "tick"
    zero_pad: bool  # writes «01» rather than «1» in two cells

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def writers(count: int, seed: int) -> tuple[WriterStyle, ...]:
    """`count` distinct hands drawn from the seed."""
    out = []
    for i in range(count):
        rng = random.Random(f"{seed}|writer|{i}")
        out.append(
            WriterStyle(
                id=f"w{i:02d}",
                font=rng.choices(("skeleton", "hershey", "hershey-italic"), (6, 2, 2))[0],
                slant=round(rng.uniform(-0.08, 0.35), 3),
                stroke_mm=round(rng.uniform(0.28, 0.6), 3),
                size=round(rng.uniform(0.55, 0.85), 3),
                jitter=round(rng.uniform(0.015, 0.06), 3),
                offset=round(rng.uniform(0.03, 0.16), 3),
                ink=rng.randint(10, 80),
                letter_mm=round(rng.uniform(1.6, 2.4), 2),
                word_gap_mm=round(rng.uniform(2.6, 4.0), 2),
                x_height_mm=round(rng.uniform(1.8, 2.6), 2),
                loop=round(rng.uniform(0.12, 0.34), 3),
                mark=rng.choices(("cross", "tick"), (4, 1))[0],
                zero_pad=rng.random() < 0.6,
            )
        )
    return tuple(out)


def _rng(seed: int, *parts: object) -> random.Random:
    return random.Random("|".join(str(p) for p in (seed, *parts)))


def _writer_index(seed: int, kind: str, key: str, count: int) -> int:
    digest = hashlib.sha256(f"{seed}|{kind}|{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % count


# --- what happens to each work -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkOutcome:
    """One kit on the exam day. `attendance`: present, absent, or unused (a reserve kit)."""

    work: IssuedWork
    attendance: str
    not_finished: bool = False
    removed: bool = False
    oral: bool = False
    topic: str | None = None
    words: int = 0
    lines: tuple[tuple[int, ...], ...] = ()  # letters of each word, line by line, all pages
    additional: tuple[str, ...] = ()  # additional blank codes used, sheet 2, 3, ...
    expert_marks: dict[str, str] | None = None  # on the expert's copy
    original_marks: dict[str, str | None] | None = None  # transcribed onto the original
    transcription_errors: tuple[str, ...] = ()
    cancelled: tuple[str, ...] = ()  # mark boxes filled to cancel them (on the original)
    written_codes: dict[str, str] = field(default_factory=dict)  # page key → code as written
    writer: int = 0
    skill: float = 0.5

    @property
    def present(self) -> bool:
        return self.attendance == "present"

    @property
    def flagged(self) -> bool:
        return self.not_finished or self.removed

    @property
    def answer_blanks(self) -> int:
        """«Количество бланков записи»: the answer blank and the additional ones used."""
        return 1 + len(self.additional) if self.present else 0


def overall_2017(marks: Mapping[str, str]) -> str:
    """The 2017/18 rule (DOMAIN.md §6): «зачет» needs both requirements, then К1 and К2 and
    at least one of К3–К5."""
    if marks["requirement_1"] != PASS or marks["requirement_2"] != PASS:
        return FAIL
    ok = {k: marks[k] == PASS for k in CRITERIA}
    return PASS if ok["k1"] and ok["k2"] and (ok["k3"] or ok["k4"] or ok["k5"]) else FAIL


def _expert_marks(
    rng: random.Random, words: int, form: str, skill: float, independent: bool
) -> dict[str, str]:
    marks = {
        "requirement_1": PASS if words >= MIN_WORDS[form] else FAIL,
        "requirement_2": PASS if independent else FAIL,
    }
    if FAIL in marks.values():
        marks.update(dict.fromkeys(CRITERIA, FAIL))
    else:
        chances = {"k1": 0.9 + 0.09 * skill, "k2": 0.8 + 0.18 * skill}
        chances.update(dict.fromkeys(("k3", "k4", "k5"), 0.4 + 0.55 * skill))
        marks.update({k: PASS if rng.random() < p else FAIL for k, p in chances.items()})
    marks["overall"] = overall_2017(marks)
    return marks


def _words(rng: random.Random, form: str, short: bool) -> int:
    low = MIN_WORDS[form]
    if short:
        return rng.randint(max(20, low // 4), low - 1)
    mean, sd = (390, 95) if form == "essay" else (250, 55)
    words = int(rng.gauss(mean, sd))
    # Those who would fall short write until the volume is reached, and a little more.
    if words < low:
        return low + int(rng.expovariate(1 / 25))
    return min(words, 3 * mean)


# Letters per word in Russian prose (prepositions and conjunctions make the short ones).
_WORD_LENGTHS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)
_WORD_WEIGHTS = (6, 10, 9, 9, 10, 11, 11, 10, 8, 6, 4, 3, 2)


def text_lines(rng: random.Random, words: int, style: WriterStyle) -> list[tuple[int, ...]]:
    """The words laid out in lines of the writer's width (the answer blank's text width)."""
    width = layout_for(BlankType.ANSWER, 2).field("text").box.w - 2 * TEXT_MARGIN_MM - 4.0
    lines: list[tuple[int, ...]] = []
    current: list[int] = []
    used = 0.0
    right = width - rng.uniform(0, 8.0)
    for n in rng.choices(_WORD_LENGTHS, _WORD_WEIGHTS, k=words):
        need = n * style.letter_mm + (style.word_gap_mm if current else 0.0)
        if current and used + need > right:
            lines.append(tuple(current))
            current, used, right = [], 0.0, width - rng.uniform(0, 8.0)
            need = n * style.letter_mm
        current.append(n)
        used += need
    if current:
        lines.append(tuple(current))
    return lines


def _text_capacity() -> list[int]:
    """Lines on the answer blank's front and back."""
    return [layout_for(BlankType.ANSWER, n).field("text").lines for n in (1, 2)]


def _additional_capacity() -> int:
    return sum(layout_for(BlankType.ADDITIONAL, n).field("text").lines for n in (1, 2))


def decide_works(manifest: PrintManifest, options: ExamDayOptions) -> list[WorkOutcome]:
    """The fate of every issued kit, in manifest order. Additional blanks come from the room's
    stack in manifest order; when the stack runs out, a work ends on the last line it has."""
    styles = writers(options.writers, options.seed)
    stacks: dict[tuple[str, str | None], list[str]] = {}
    for blank in manifest.additional:
        stacks.setdefault((blank.school_code, blank.room), []).append(blank.code)
    drafts = []
    for work in manifest.works:
        drafts.append(_draft(work, options, styles))
    # Who asks for additional blanks first is decided by the seed, not by the manifest order.
    order = sorted(
        range(len(drafts)),
        key=lambda i: _rng(options.seed, "ask", drafts[i].work.work_code).random(),
    )
    per_blank = _additional_capacity()
    on_answer = sum(_text_capacity())
    final: dict[int, WorkOutcome] = {}
    for i in order:
        draft = drafts[i]
        if not draft.present:
            final[i] = draft
            continue
        stack = stacks.setdefault((draft.work.school_code, draft.work.room), [])
        extra = max(0, len(draft.lines) - on_answer)
        needed = -(-extra // per_blank)
        taken = tuple(stack[:needed])
        del stack[:needed]
        lines = draft.lines[: on_answer + len(taken) * per_blank]
        final[i] = _finish(draft, lines, taken, options)
    return [final[i] for i in range(len(drafts))]


def _draft(work: IssuedWork, options: ExamDayOptions, styles: Sequence[WriterStyle]) -> WorkOutcome:
    seed = options.seed
    writer = _writer_index(seed, "participant", work.work_code, len(styles))
    if work.kind == "reserve":
        return WorkOutcome(work, "unused", writer=writer)
    rng = _rng(seed, "work", work.work_code)
    if rng.random() < options.absent:
        return WorkOutcome(work, "absent", writer=writer)
    skill = rng.random()
    roll = rng.random()
    not_finished = roll < options.not_finished
    removed = not not_finished and roll < options.not_finished + options.removed
    oral = work.ovz and (work.oral or rng.random() < options.oral_unregistered)
    words = _words(rng, work.form, rng.random() < options.short)
    if not_finished:
        words = max(5, int(words * rng.uniform(0.1, 0.7)))
    elif removed:
        words = max(0, int(words * rng.uniform(0.0, 0.5)))
    lines = tuple(text_lines(rng, words, styles[writer]))
    return WorkOutcome(
        work,
        "present",
        not_finished=not_finished,
        removed=removed,
        oral=oral,
        topic=rng.choice(options.topics),
        words=words,
        lines=lines,
        writer=writer,
        skill=skill,
    )


def _finish(
    draft: WorkOutcome,
    lines: tuple[tuple[int, ...], ...],
    taken: tuple[str, ...],
    options: ExamDayOptions,
) -> WorkOutcome:
    rng = _rng(options.seed, "marks", draft.work.work_code)
    words = sum(len(line) for line in lines)
    expert = original = None
    errors: tuple[str, ...] = ()
    cancelled: tuple[str, ...] = ()
    if not draft.flagged:
        independent = rng.random() >= options.not_independent
        expert = _expert_marks(rng, words, draft.work.form, draft.skill, independent)
        original_values: dict[str, str | None] = dict(expert)
        if rng.random() < options.transcription_errors:
            group = rng.choice(GROUPS)
            # Mostly the other box crossed; sometimes the group left empty.
            other = FAIL if expert[group] == PASS else PASS
            original_values[group] = other if rng.random() < 0.8 else None
            errors = (group,)
        original = original_values
        if rng.random() < options.cancelled_marks:
            group = rng.choice(GROUPS)
            value = original[group]
            wrong = "fail" if value == PASS else "pass"
            cancelled = (f"{group}_{wrong}",)
    written: dict[str, str] = {}
    code = draft.work.work_code
    for key in [page_key(BlankType.ANSWER, code, 1)] + [
        page_key(BlankType.ADDITIONAL, a, 1) for a in taken
    ]:
        code_rng = _rng(options.seed, "code", key)
        if code_rng.random() < options.code_errors:
            position = code_rng.randrange(len(code))
            digit = str((int(code[position]) + code_rng.randint(1, 9)) % 10)
            written[key] = code[:position] + digit + code[position + 1 :]
        else:
            written[key] = code
    return WorkOutcome(
        draft.work,
        "present",
        not_finished=draft.not_finished,
        removed=draft.removed,
        oral=draft.oral,
        topic=draft.topic,
        words=words,
        lines=lines,
        additional=taken,
        expert_marks=expert,
        original_marks=original,
        transcription_errors=errors,
        cancelled=cancelled,
        written_codes=written,
        writer=draft.writer,
        skill=draft.skill,
    )


# --- what is drawn on each page ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigitEntry:
    field: str  # digit-cells field of the layout
    cells: tuple[str, ...]  # one digit or "" per cell
    writer: int


@dataclass(frozen=True, slots=True)
class MarkEntry:
    field: str  # mark-box field of the layout
    stroke: str  # cross, tick, or fill (a cancelled box)
    writer: int


@dataclass(frozen=True, slots=True)
class PageInk:
    """Everything handwritten on one page, for the adapter to draw at 300 dpi."""

    key: str
    digits: tuple[DigitEntry, ...] = ()
    marks: tuple[MarkEntry, ...] = ()
    lines: tuple[tuple[int, ...], ...] = ()  # from the text area's first line
    text_writer: int = 0
    z_from_line: int | None = None  # «Z» from this line to the end of the text area
    z_writer: int = 0
    seed: int = 0  # the strokes' own randomness

    @property
    def words(self) -> int:
        return sum(len(line) for line in self.lines)

    @property
    def blank(self) -> bool:
        return not (self.digits or self.marks or self.lines or self.z_from_line is not None)


def _page_seed(seed: int, key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}|ink|{key}".encode()).digest()[:4], "big")


def _count_cells(count: int, zero_pad: bool, rng: random.Random) -> tuple[str, ...]:
    text = f"{count:02d}"
    if zero_pad or count >= 10:
        return (text[0], text[1])
    return (str(count), "") if rng.random() < 0.7 else ("", str(count))


def ink_pages(outcomes: Sequence[WorkOutcome], options: ExamDayOptions) -> dict[str, PageInk]:
    """Every page's handwriting, keyed by page key; pages with nothing on them are left out."""
    count = options.writers
    styles = writers(count, options.seed)
    out: dict[str, PageInk] = {}
    for outcome in outcomes:
        if not outcome.present:
            continue
        work = outcome.work
        code = work.work_code
        room = f"{work.school_code}:{work.room}"
        commission = _writer_index(options.seed, "commission", room, count)
        transcriber = _writer_index(options.seed, "transcriber", work.school_code, count)
        key = page_key(BlankType.REGISTRATION, code, 1)
        rng = _rng(options.seed, "registration", code)
        digits = [
            DigitEntry("topic_number", tuple(outcome.topic or ""), outcome.writer),
            DigitEntry(
                "answer_blanks",
                _count_cells(outcome.answer_blanks, styles[commission].zero_pad, rng),
                commission,
            ),
        ]
        marks = [
            MarkEntry(name, styles[commission].mark, commission)
            for name, on in (
                ("flag_not_finished", outcome.not_finished),
                ("flag_removed", outcome.removed),
                ("flag_oral", outcome.oral),
            )
            if on
        ]
        if outcome.original_marks is not None:
            style = styles[transcriber].mark
            for group, value in outcome.original_marks.items():
                if value is not None:
                    box = f"{group}_{'pass' if value == PASS else 'fail'}"
                    marks.append(MarkEntry(box, style, transcriber))
            marks += [MarkEntry(box, "fill", transcriber) for box in outcome.cancelled]
        out[key] = PageInk(key, tuple(digits), tuple(marks), seed=_page_seed(options.seed, key))
        out.update(_text_pages(outcome, commission, options.seed))
    return out


def _text_pages(outcome: WorkOutcome, commission: int, seed: int) -> dict[str, PageInk]:
    """The work's lines over the answer blank's two sides and its additional blanks' sides;
    «Z» over the rest of the last written side and over every unused side."""
    code = outcome.work.work_code
    sides: list[tuple[BlankType, str, int, int | None]] = [
        (BlankType.ANSWER, code, 1, None),
        (BlankType.ANSWER, code, 2, None),
    ]
    for number, blank in enumerate(outcome.additional, start=2):
        sides += [(BlankType.ADDITIONAL, blank, 1, number), (BlankType.ADDITIONAL, blank, 2, None)]
    remaining = list(outcome.lines)
    out = {}
    for blank_type, blank_code, page, sheet in sides:
        key = page_key(blank_type, blank_code, page)
        capacity = layout_for(blank_type, page).field("text").lines
        lines, remaining = remaining[:capacity], remaining[capacity:]
        digits: list[DigitEntry] = []
        if page == 1:
            written = outcome.written_codes.get(key, code)
            digits.append(DigitEntry("work_code", tuple(written), outcome.writer))
        if sheet is not None:
            digits.append(DigitEntry("sheet_number", tuple(f"{sheet:02d}"), outcome.writer))
        # Two lines left or more are cancelled with a «Z»; one line is left as it is.
        z_from = len(lines) if capacity - len(lines) >= 2 else None
        out[key] = PageInk(
            key,
            tuple(digits),
            lines=tuple(lines),
            text_writer=outcome.writer,
            z_from_line=z_from,
            z_writer=commission,
            seed=_page_seed(seed, key),
        )
    return out


# --- records and ground truth ------------------------------------------------------------------


def _yes(value: bool) -> str:
    return "1" if value else "0"


def room_records(outcomes: Sequence[WorkOutcome]) -> dict[str, list[dict[str, str]]]:
    """ИС-05 data per school: one row per participant's kit (reserve kits have no seat)."""
    out: dict[str, list[dict[str, str]]] = {}
    for o in sorted(
        (o for o in outcomes if o.work.kind == "kit"),
        key=lambda o: (o.work.school_code, o.work.room or "", o.work.work_code),
    ):
        out.setdefault(o.work.school_code, []).append(
            {
                "school_code": o.work.school_code,
                "room": o.work.room or "",
                "work_code": o.work.work_code,
                "form": o.work.form,
                "attendance": o.attendance,
                "not_finished": _yes(o.not_finished),
                "removed": _yes(o.removed),
                "oral": _yes(o.oral),
                "answer_blanks": str(o.answer_blanks),
                "additional_blanks": " ".join(o.additional),
            }
        )
    return out


PROTOCOL_HEADERS = {
    "work_code": "Код работы",
    "expert": "Эксперт",
    "requirement_1": "Требование 1",
    "requirement_2": "Требование 2",
    **{k: f"К{k[1]}" for k in CRITERIA},
    "overall": "Результат",
}


def expert_protocols(outcomes: Sequence[WorkOutcome]) -> dict[str, list[dict[str, str]]]:
    """Each school's electronic expert protocol: one row per graded work with the marks of
    the expert's copy, under the protocol's Russian headers. «Эксперт» is left empty: the
    school fills it from the copy stage's assignment, the grade stage then knows it anyway."""
    out: dict[str, list[dict[str, str]]] = {}
    for o in sorted(outcomes, key=lambda o: (o.work.school_code, o.work.work_code)):
        if o.expert_marks is None:
            continue
        row = {PROTOCOL_HEADERS["work_code"]: o.work.work_code, PROTOCOL_HEADERS["expert"]: ""}
        row |= {PROTOCOL_HEADERS[g]: o.expert_marks[g] for g in GROUPS}
        out.setdefault(o.work.school_code, []).append(row)
    return out


def commissions(outcomes: Sequence[WorkOutcome], seed: int) -> list[dict[str, str]]:
    """Each school's grading commission by expert code: three members, one more per 40 kits
    (codes only: the names stay with the school)."""
    kits = Counter(o.work.school_code for o in outcomes if o.work.kind == "kit")
    rows = []
    for school in sorted(kits):
        size = 3 + kits[school] // 40 + _rng(seed, "commission", school).randrange(2)
        rows += [
            {"school_code": school, "expert_code": f"{school}-{n:02d}"} for n in range(1, size + 1)
        ]
    return rows


def _fields_of(ink: PageInk | None, blank_type: BlankType, page: int) -> dict[str, Any]:
    """The handwritten truth of one page: every digit-cells field (empty ones too), every
    mark box that carries ink, the words and whether a «Z» was drawn."""
    layout = layout_for(blank_type, page)
    digits = {d.field: d for d in ink.digits} if ink else {}
    out: dict[str, Any] = {"digits": {}, "marks": {}, "words": 0, "lines": 0, "z": False}
    for item in layout.of_kind(FieldKind.DIGIT_CELLS):
        entry = digits.get(item.name)
        cells = list(entry.cells) if entry else [""] * len(item.cells)
        out["digits"][item.name] = {
            "value": "".join(cells),
            "cells": cells,
            "writer": f"w{entry.writer:02d}" if entry else None,
        }
    if ink:
        out["marks"] = {m.field: m.stroke for m in ink.marks}
        out["words"] = ink.words
        out["lines"] = len(ink.lines)
        out["z"] = ink.z_from_line is not None
        if ink.lines:
            out["text_writer"] = f"w{ink.text_writer:02d}"
    return out


def _result_groups(boxes: Mapping[str, str]) -> dict[str, str | None]:
    """What the original's mark boxes say per group: the crossed box (cancelled ones do not
    count), None when no box or both boxes are crossed."""
    out: dict[str, str | None] = {}
    for group in GROUPS:
        crossed = [
            value
            for suffix, value in (("pass", PASS), ("fail", FAIL))
            if boxes.get(f"{group}_{suffix}") in ("cross", "tick")
        ]
        out[group] = crossed[0] if len(crossed) == 1 else None
    return out


def _matrix(values: Any) -> list[list[float]]:
    return [[round(float(v), 6) for v in row] for row in values]


def ground_truth(
    manifest: PrintManifest,
    outcomes: Sequence[WorkOutcome],
    inks: Mapping[str, PageInk],
    plan: ScanPlan,
    options: ExamDayOptions,
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything the simulator decided, for measuring the later stages: the images (file,
    frame, page, effects, the page-to-image map), the missing pages, every issued page with its
    handwritten truth, every work, the room records and the counts. No personal data: codes
    only. Image paths are relative to the folder that holds this file."""
    by_key = {p.key: p for p in manifest.pages}
    work_of_page: dict[str, str] = {}
    for o in outcomes:
        for t, n in ((BlankType.REGISTRATION, 1), (BlankType.ANSWER, 1), (BlankType.ANSWER, 2)):
            work_of_page[page_key(t, o.work.work_code, n)] = o.work.work_code
        for blank in o.additional:
            for n in (1, 2):
                work_of_page[page_key(BlankType.ADDITIONAL, blank, n)] = o.work.work_code
    images: list[dict[str, Any]] = []
    seen: dict[str, list[str]] = {}
    for scan_file, frame in plan.frames():
        page = by_key[frame.page_key]
        ref = f"scans/{scan_file.school_code}/{scan_file.name}"
        width, height = page_size_px(frame.effects.dpi, frame.effects.overscan_mm)
        images.append(
            {
                "file": ref,
                "frame": frame.frame,
                "format": scan_file.file_format,
                "school_code": scan_file.school_code,
                "blank_type": str(page.blank_type),
                "code": page.code,
                "page": page.page,
                "page_key": frame.page_key,
                "duplicate": frame.duplicate,
                "size_px": [width, height],
                "effects": frame.effects.as_dict(),
                "mm_to_px": _matrix(mm_to_px(frame.effects)),
            }
        )
        seen.setdefault(frame.page_key, []).append(f"{ref}#{frame.frame}")
    missing = set(plan.missing)
    pages = []
    for p in manifest.pages:
        ink = inks.get(p.key)
        pages.append(
            {
                "page_key": p.key,
                "blank_type": str(p.blank_type),
                "code": p.code,
                "page": p.page,
                "school_code": p.school_code,
                "room": p.room,
                "work_code": work_of_page.get(p.key),
                "print_file": p.file,
                "print_index": p.index,
                "status": "scanned"
                if p.key in seen
                else ("missing" if p.key in missing else "not_scanned"),
                "images": seen.get(p.key, []),
                "handwritten": _fields_of(ink, p.blank_type, p.page),
            }
        )
    works = []
    for o in outcomes:
        reg = inks.get(page_key(BlankType.REGISTRATION, o.work.work_code, 1))
        original_boxes = {m.field: m.stroke for m in reg.marks} if reg else {}
        works.append(
            {
                "work_code": o.work.work_code,
                "school_code": o.work.school_code,
                "room": o.work.room,
                "kind": o.work.kind,
                "form": o.work.form,
                "ovz": o.work.ovz,
                "oral_registered": o.work.oral,
                "attendance": o.attendance,
                "flags": {"not_finished": o.not_finished, "removed": o.removed, "oral": o.oral},
                "topic": o.topic,
                "answer_blanks": o.answer_blanks,
                "additional_blanks": [
                    {"code": code, "sheet": sheet}
                    for sheet, code in enumerate(o.additional, start=2)
                ],
                "words": o.words,
                "writer": f"w{o.writer:02d}",
                "expert_marks": o.expert_marks,
                "original_marks": o.original_marks,
                "original_read": _result_groups(original_boxes) if o.original_marks else None,
                "transcription_errors": list(o.transcription_errors),
                "cancelled_boxes": list(o.cancelled),
                "written_work_codes": dict(sorted(o.written_codes.items())),
                "code_errors": sorted(
                    k for k, v in o.written_codes.items() if v != o.work.work_code
                ),
            }
        )
    used_by = {code: o.work.work_code for o in outcomes for code in o.additional}
    additional = [
        {
            "code": a.code,
            "school_code": a.school_code,
            "room": a.room,
            "used_by": used_by.get(a.code),
        }
        for a in manifest.additional
    ]
    rooms: dict[tuple[str, str], dict[str, Any]] = {}
    for o in outcomes:
        if o.work.kind != "kit":
            continue
        room = rooms.setdefault(
            (o.work.school_code, o.work.room or ""),
            {
                "school_code": o.work.school_code,
                "room": o.work.room,
                "present": [],
                "absent": [],
                "not_finished": [],
                "removed": [],
                "oral": [],
            },
        )
        room["present" if o.present else "absent"].append(o.work.work_code)
        for flag in ("not_finished", "removed", "oral"):
            if getattr(o, flag):
                room[flag].append(o.work.work_code)
    scanned = set(seen)
    return {
        "schema_version": SCHEMA_VERSION,
        "session": manifest.session,
        "region": manifest.region,
        **dict(meta),
        "exam_day_options": options.as_dict(),
        "scan_options": plan.options.as_dict(),
        "writers": [w.as_dict() for w in writers(options.writers, options.seed)],
        "scanners": {
            school: {
                "dpi": s.dpi,
                "binarize": s.binarize,
                "dither": s.dither,
                "format": s.file_format,
                "background": s.background,
                "overscan_mm": s.overscan_mm,
            }
            for school, s in sorted(plan.scanners.items())
        },
        "counts": _counts(outcomes, images, missing, scanned, len(manifest.pages), plan),
        "images": images,
        "missing": [
            {
                "page_key": k,
                "blank_type": str(by_key[k].blank_type),
                "code": by_key[k].code,
                "page": by_key[k].page,
                "school_code": by_key[k].school_code,
            }
            for k in sorted(missing)
        ],
        "pages": pages,
        "works": works,
        "additional": additional,
        "rooms": [rooms[k] for k in sorted(rooms)],
    }


def _counts(
    outcomes: Sequence[WorkOutcome],
    images: Sequence[Mapping[str, Any]],
    missing: set[str],
    scanned: set[str],
    issued: int,
    plan: ScanPlan,
) -> dict[str, Any]:
    kits = [o for o in outcomes if o.work.kind == "kit"]
    graded = [o for o in kits if o.expert_marks is not None]
    return {
        "works": len(outcomes),
        "kits": len(kits),
        "reserve": len(outcomes) - len(kits),
        "present": sum(o.present for o in kits),
        "absent": sum(o.attendance == "absent" for o in kits),
        "not_finished": sum(o.not_finished for o in kits),
        "removed": sum(o.removed for o in kits),
        "oral": sum(o.oral for o in kits),
        "graded": len(graded),
        "passed": sum((o.expert_marks or {}).get("overall") == PASS for o in graded),
        "requirement_1_failed": sum(
            (o.expert_marks or {}).get("requirement_1") == FAIL for o in graded
        ),
        "transcription_errors": sum(bool(o.transcription_errors) for o in graded),
        "additional_used": sum(len(o.additional) for o in outcomes),
        "words": sum(o.words for o in outcomes),
        "pages_issued": issued,
        "pages_scanned": len(scanned),
        "pages_missing": len(missing),
        "pages_not_scanned": issued - len(scanned) - len(missing),
        "images": len(images),
        "duplicates": sum(bool(i["duplicate"]) for i in images),
        "unreadable": sum(i["effects"]["unreadable"] is not None for i in images),
        "turned": sum(bool(i["effects"]["turned_180"]) for i in images),
        "files": sum(len(files) for files in plan.files.values()),
        "by_format": _by_format(plan),
    }


def _by_format(plan: ScanPlan) -> dict[str, int]:
    out: dict[str, int] = {}
    for files in plan.files.values():
        for f in files:
            out[f.file_format] = out.get(f.file_format, 0) + 1
    return dict(sorted(out.items()))


def scanned_pages(
    manifest: PrintManifest, outcomes: Iterable[WorkOutcome], options: ExamDayOptions
) -> dict[str, list[str]]:
    """Per school, the keys of the pages it sends back, in print order: every page of every
    kit and additional blank, or, without `scan_unused`, not those of unused reserve kits and
    unused additional blanks."""
    if options.scan_unused:
        skip: set[str] = set()
    else:
        used = {code for o in outcomes for code in o.additional}
        unused = [o.work.work_code for o in outcomes if o.attendance == "unused"]
        unused += [a.code for a in manifest.additional if a.code not in used]
        skip = {p.key for p in manifest.pages if p.code in set(unused)}
    out: dict[str, list[str]] = {}
    for p in manifest.pages:
        if p.key not in skip:
            out.setdefault(p.school_code, []).append(p.key)
    for school in manifest.schools():
        out.setdefault(school, [])
    return out
