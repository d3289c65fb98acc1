"""A realistic, deterministic synthetic region: МОУО, schools, rooms, participants, and the
submission rows each МОУО would send, optionally with injected errors and their ground truth.

Everything is drawn from one seeded numpy generator with vectorised operations, so a million
participants take seconds and the same (participants, seed, options) always give the same data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import numpy as np
import polars as pl
from faker.providers.address.ru_RU import Provider as _RuAddress
from faker.providers.person.ru_RU import Provider as _RuPerson

from tasks.domain.identifiers import DOCUMENT_TYPE_NAMES_RU, DocumentType
from tasks.domain.participants import CATEGORY_NAMES_RU, FORM_NAMES_RU, Category, Form

__all__ = [
    "GeneratorOptions",
    "InjectedError",
    "RegionInfo",
    "SyntheticRegion",
    "generate_region",
    "submission_frame",
]

_CYRILLIC_WORD = re.compile(r"^[А-ЯЁ][а-яё]+$")


def _names(values: tuple[str, ...]) -> np.ndarray:
    return np.array(sorted({v for v in values if _CYRILLIC_WORD.match(v)}))


# Name lists come with Faker's ru_RU locale; only plain Cyrillic words are kept.
SURNAMES = {"М": _names(_RuPerson.last_names_male), "Ж": _names(_RuPerson.last_names_female)}
FIRST_NAMES = {"М": _names(_RuPerson.first_names_male), "Ж": _names(_RuPerson.first_names_female)}
PATRONYMICS = {"М": _names(_RuPerson.middle_names_male), "Ж": _names(_RuPerson.middle_names_female)}
CITIES = _names(_RuAddress.city_names)

# Shares of categories among participants (a region's typical December session).
CATEGORY_SHARES: dict[Category, float] = {
    Category.STUDENT: 0.895,
    Category.STUDENT_CLOSED: 0.004,
    Category.STUDENT_HOME: 0.006,
    Category.GRADUATE: 0.045,
    Category.SPO: 0.040,
    Category.FOREIGN_SCHOOL: 0.004,
    Category.CERTIFICATE: 0.006,
}
# Age on the exam day by category: (youngest, oldest).
AGES: dict[Category, tuple[int, int]] = {
    Category.STUDENT: (16, 19),
    Category.STUDENT_CLOSED: (16, 20),
    Category.STUDENT_HOME: (16, 20),
    Category.GRADUATE: (18, 45),
    Category.SPO: (16, 21),
    Category.FOREIGN_SCHOOL: (16, 19),
    Category.CERTIFICATE: (17, 25),
}
OVZ_SHARE = 0.03
EXPOSITION_SHARE_AMONG_ELIGIBLE = 0.6
ORAL_SHARE_AMONG_OVZ = 0.1
RETAKE_SHARES = (0.975, 0.02, 0.005)  # attempt 1, 2, 3
PARTICIPANTS_PER_SCHOOL = 28
PARTICIPANTS_PER_MOUO = 700
ROOM_CAPACITY = 15


class InjectedError(StrEnum):
    """Errors a municipality really makes; each has a rule in the submission contract."""

    INVALID_SNILS = "invalid_snils"
    LATIN_LOOKALIKE = "latin_lookalike"
    FUTURE_BIRTH_DATE = "future_birth_date"
    ABSURD_BIRTH_DATE = "absurd_birth_date"
    MISSING_NAME = "missing_name"
    BAD_PASSPORT = "bad_passport"
    EXPOSITION_NOT_ELIGIBLE = "exposition_not_eligible"
    FOREIGN_SCHOOL_CODE = "foreign_school_code"
    UNKNOWN_CATEGORY = "unknown_category"
    DUPLICATE_ROW = "duplicate_row"


ERROR_COLUMNS: dict[InjectedError, str] = {
    InjectedError.INVALID_SNILS: "snils",
    InjectedError.LATIN_LOOKALIKE: "surname",
    InjectedError.FUTURE_BIRTH_DATE: "birth_date",
    InjectedError.ABSURD_BIRTH_DATE: "birth_date",
    InjectedError.MISSING_NAME: "name",
    InjectedError.BAD_PASSPORT: "document_series",
    InjectedError.EXPOSITION_NOT_ELIGIBLE: "form",
    InjectedError.FOREIGN_SCHOOL_CODE: "school_code",
    InjectedError.UNKNOWN_CATEGORY: "category",
    InjectedError.DUPLICATE_ROW: "",
}
_LOOKALIKES = {"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x"}


@dataclass(frozen=True, slots=True)
class RegionInfo:
    code: str
    name: str
    timezone: str
    okato: str  # first two digits of passport series issued there


@dataclass(frozen=True, slots=True)
class GeneratorOptions:
    participants: int
    seed: int
    region: RegionInfo
    exam_date: date
    error_rate: float = 0.0
    silent_mouos: int = 0  # how many МОУО (the last ones) send nothing


@dataclass(frozen=True, slots=True)
class SyntheticRegion:
    """Frames of the generated region. `participants` is the clean ground truth; `submissions`
    holds what each МОУО sends (with injected errors); `errors` is the injection ground truth."""

    options: GeneratorOptions
    mouos: pl.DataFrame
    schools: pl.DataFrame
    rooms: pl.DataFrame
    participants: pl.DataFrame
    submissions: pl.DataFrame
    errors: pl.DataFrame


def _unique_ints(rng: np.random.Generator, size: int, low: int, high: int) -> np.ndarray:
    """`size` distinct integers from [low, high), in random order."""
    if high - low < size:
        raise ValueError("range too small for distinct values")
    drawn = np.unique(rng.integers(low, high, size=int(size * 1.1) + 16))
    while drawn.size < size:
        drawn = np.unique(np.concatenate([drawn, rng.integers(low, high, size=size)]))
    return rng.permutation(drawn)[:size]


def snils_check_numbers(bodies: np.ndarray) -> np.ndarray:
    """Vectorised СНИЛС check numbers of 9-digit bodies (see identifiers.snils_check_number)."""
    total = np.zeros(bodies.shape, dtype=np.int64)
    rest = bodies.astype(np.int64)
    for weight in range(1, 10):  # last digit has weight 1
        total += (rest % 10) * weight
        rest //= 10
    check = np.where(total < 100, total, total % 101)
    return np.where((check == 100) | (check == 101), 0, check)


def _structure(options: GeneratorOptions, rng: np.random.Generator) -> tuple[pl.DataFrame, ...]:
    n = options.participants
    mouo_count = int(np.clip(round(n / PARTICIPANTS_PER_MOUO), 3, 99))
    school_count = max(mouo_count, round(n / PARTICIPANTS_PER_SCHOOL))
    region = options.region.code
    cities = rng.choice(CITIES, size=mouo_count, replace=False)
    mouo_codes = [f"{region}-{i + 1:02d}" for i in range(mouo_count)]
    mouos = pl.DataFrame({
        "mouo_code": mouo_codes,
        "name": [f"Управление образования администрации г. {city}" for city in cities],
        "email": [f"uo{i + 1:02d}@obr{region}.example" for i in range(mouo_count)],
    })
    # Schools per МОУО: a lognormal spread, every МОУО at least one school.
    weights = rng.lognormal(0.0, 0.6, size=mouo_count)
    per_mouo = np.maximum(1, np.floor(weights / weights.sum() * school_count)).astype(int)
    school_mouo = np.repeat(np.arange(mouo_count), per_mouo)
    serial = np.concatenate([np.arange(1, k + 1) for k in per_mouo])
    kinds = rng.choice(["school", "spo", "closed"], size=school_mouo.size, p=[0.9, 0.08, 0.02])
    numbers = rng.integers(1, 120, size=school_mouo.size)
    names = [
        {"school": f"МБОУ «Средняя общеобразовательная школа № {num}»",
         "spo": f"ГПОУ «Техникум № {num}»",
         "closed": f"ГОУ «Специальное учебно-воспитательное учреждение № {num}»"}[kind]
        for kind, num in zip(kinds, numbers, strict=True)
    ]
    schools = pl.DataFrame({
        "school_code": [f"{region}{m + 1:02d}{s:03d}" for m, s in zip(school_mouo, serial, strict=True)],
        "mouo_code": [mouo_codes[m] for m in school_mouo],
        "name": names,
        "kind": kinds,
    })
    return mouos, schools


def _people(options: GeneratorOptions, schools: pl.DataFrame,
            rng: np.random.Generator) -> pl.DataFrame:
    n = options.participants
    categories = np.array(list(CATEGORY_SHARES))
    category = rng.choice(categories, size=n, p=np.array(list(CATEGORY_SHARES.values())))
    sex = rng.choice(np.array(["М", "Ж"]), size=n)
    male = sex == "М"
    surname = np.where(male, rng.choice(SURNAMES["М"], n), rng.choice(SURNAMES["Ж"], n))
    name = np.where(male, rng.choice(FIRST_NAMES["М"], n), rng.choice(FIRST_NAMES["Ж"], n))
    patronymic = np.where(male, rng.choice(PATRONYMICS["М"], n), rng.choice(PATRONYMICS["Ж"], n))
    # Age and birth date by category.
    low = np.array([AGES[Category(c)][0] for c in category])
    high = np.array([AGES[Category(c)][1] for c in category])
    age_days = rng.integers(low * 365 + 30, high * 365 + 300)
    exam = np.datetime64(options.exam_date, "D")
    birth = exam - age_days.astype("timedelta64[D]")
    # Schools: students by their school's kind, graduates register at their МОУО.
    kind = schools["kind"].to_numpy()
    codes = schools["school_code"].to_numpy()
    by_kind = {k: codes[kind == k] if (kind == k).any() else codes[kind == "school"]
               for k in ("school", "spo", "closed")}
    wanted = np.where(category == Category.SPO, "spo",
                      np.where(category == Category.STUDENT_CLOSED, "closed", "school"))
    school = np.empty(n, dtype=object)
    for k, pool in by_kind.items():
        mask = wanted == k
        school[mask] = rng.choice(pool, size=int(mask.sum()))
    ovz = rng.random(n) < OVZ_SHARE
    eligible = ovz | np.isin(category, [Category.STUDENT_CLOSED, Category.STUDENT_HOME])
    exposition = eligible & (rng.random(n) < EXPOSITION_SHARE_AMONG_ELIGIBLE)
    oral = ovz & (rng.random(n) < ORAL_SHARE_AMONG_OVZ)
    ovz_document = np.where(ovz, rng.choice(np.array(["заключение ПМПК", "справка об инвалидности"]),
                                            size=n), "")
    attempt = rng.choice(np.array([1, 2, 3]), size=n, p=np.array(RETAKE_SHARES))
    # Identifiers: unique СНИЛС and unique passports (series: OKATO + year of issue).
    bodies = _unique_ints(rng, n, 1_002_000, 999_999_999)
    snils = [f"{b:09d}{c:02d}" for b, c in zip(bodies, snils_check_numbers(bodies), strict=True)]
    # Passports: series = OKATO code + two digits, number = 6 digits; the pair is unique.
    passport = _unique_ints(rng, n, 0, 900_000 * 100)
    series = [f"{options.region.okato}{p // 900_000:02d}" for p in passport.tolist()]
    number = [f"{p % 900_000 + 100_000:06d}" for p in passport.tolist()]
    classes = np.where(np.isin(category, [Category.STUDENT, Category.STUDENT_CLOSED,
                                          Category.STUDENT_HOME]),
                       np.char.add("11", rng.choice(np.array(["А", "Б", "В", "Г"]), size=n)), "")
    frame = pl.DataFrame({
        "participant_key": [f"P{i + 1:07d}" for i in range(n)],
        "snils": snils,
        "surname": surname, "name": name, "patronymic": patronymic, "sex": sex,
        "birth_date": birth.astype("datetime64[D]"),
        "document_type": DocumentType.PASSPORT_RF.value,
        "document_series": series, "document_number": number,
        "category": category.astype(str),
        "school_code": school.astype(str),
        "class_name": classes,
        "form": np.where(exposition, Form.EXPOSITION.value, Form.ESSAY.value),
        "oral": oral, "ovz": ovz, "ovz_document": ovz_document,
        "attempt": attempt,
    })
    return frame.with_columns(pl.col("birth_date").cast(pl.Date))


def _rooms(participants: pl.DataFrame, schools: pl.DataFrame) -> pl.DataFrame:
    counts = participants.group_by("school_code").len()
    joined = schools.join(counts, on="school_code", how="left").with_columns(
        pl.col("len").fill_null(0))
    rooms = []
    for code, count in joined.select("school_code", "len").iter_rows():
        for number in range(1, max(1, -(-count // ROOM_CAPACITY)) + 1):
            rooms.append((code, f"{number:02d}", ROOM_CAPACITY))
    return pl.DataFrame(rooms, schema=["school_code", "room", "capacity"], orient="row")


def submission_frame(participants: pl.DataFrame, schools: pl.DataFrame) -> pl.DataFrame:
    """The clean submission rows, in Russian values, with the МОУО each row belongs to."""
    return (
        participants.join(schools.select("school_code", "mouo_code"), on="school_code")
        .with_columns(
            pl.col("category").replace_strict({c.value: n for c, n in CATEGORY_NAMES_RU.items()}),
            pl.col("form").replace_strict({f.value: n for f, n in FORM_NAMES_RU.items()}),
            pl.col("document_type").replace_strict(
                {d.value: n for d, n in DOCUMENT_TYPE_NAMES_RU.items()}),
            pl.when(pl.col("oral")).then(pl.lit("да")).otherwise(pl.lit("нет")).alias("oral"),
            pl.when(pl.col("ovz")).then(pl.lit("да")).otherwise(pl.lit("нет")).alias("ovz"),
            pl.col("birth_date").dt.strftime("%d.%m.%Y"),
            pl.format("{}-{}-{} {}", pl.col("snils").str.slice(0, 3), pl.col("snils").str.slice(3, 3),
                      pl.col("snils").str.slice(6, 3), pl.col("snils").str.slice(9, 2)).alias("snils"),
            pl.col("attempt").cast(pl.Utf8),
        )
        .sort("mouo_code", "school_code", "participant_key")
    )


def _inject(rows: pl.DataFrame, options: GeneratorOptions, schools: pl.DataFrame,
            rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Corrupt a share of rows, one error each; returns the rows and the errors' ground truth."""
    n = rows.height
    hit = np.flatnonzero(rng.random(n) < options.error_rate)
    kinds = rng.choice(np.array(list(InjectedError)), size=hit.size)
    data = {column: rows[column].to_list() for column in rows.columns}
    mouo_of_school = dict(schools.select("school_code", "mouo_code").iter_rows())
    extra: list[int] = []  # rows to duplicate
    for index, kind in zip(hit.tolist(), kinds.tolist(), strict=True):
        kind = InjectedError(kind)
        if kind is InjectedError.INVALID_SNILS:
            digits = data["snils"][index]
            last = str((int(digits[-1]) + 1 + int(rng.integers(0, 8))) % 10)
            data["snils"][index] = digits[:-1] + last
        elif kind is InjectedError.LATIN_LOOKALIKE:
            word = data["surname"][index]
            spots = [i for i, c in enumerate(word) if c in _LOOKALIKES]
            if not spots:
                word, spots = "Сорокин" if data["sex"][index] == "М" else "Сорокина", [1]
            spot = spots[int(rng.integers(0, len(spots)))]
            data["surname"][index] = word[:spot] + _LOOKALIKES[word[spot]] + word[spot + 1:]
        elif kind is InjectedError.FUTURE_BIRTH_DATE:
            data["birth_date"][index] = f"01.09.{options.exam_date.year + 1}"
        elif kind is InjectedError.ABSURD_BIRTH_DATE:
            data["birth_date"][index] = f"{data['birth_date'][index][:6]}1901"
        elif kind is InjectedError.MISSING_NAME:
            data["name"][index] = ""
        elif kind is InjectedError.BAD_PASSPORT:
            data["document_series"][index] = data["document_series"][index] + "7"
        elif kind is InjectedError.EXPOSITION_NOT_ELIGIBLE:
            data["ovz"][index], data["ovz_document"][index], data["oral"][index] = "нет", "", "нет"
            data["category"][index] = CATEGORY_NAMES_RU[Category.STUDENT]
            data["form"][index] = FORM_NAMES_RU[Form.EXPOSITION]
        elif kind is InjectedError.FOREIGN_SCHOOL_CODE:
            own = data["mouo_code"][index]
            others = [c for c, m in mouo_of_school.items() if m != own]
            data["school_code"][index] = others[int(rng.integers(0, len(others)))]
        elif kind is InjectedError.UNKNOWN_CATEGORY:
            data["category"][index] = "Экстерн"
        else:
            extra.append(index)
    corrupted = pl.DataFrame(data, schema=rows.schema)
    truth = pl.DataFrame({
        "participant_key": corrupted["participant_key"].gather(hit.tolist()),
        "mouo_code": corrupted["mouo_code"].gather(hit.tolist()),
        "error": [InjectedError(k).value for k in kinds.tolist()],
        "column": [ERROR_COLUMNS[InjectedError(k)] for k in kinds.tolist()],
    }, schema={"participant_key": pl.Utf8, "mouo_code": pl.Utf8, "error": pl.Utf8,
               "column": pl.Utf8})
    if extra:  # a duplicate sits right after its original, as a copy-paste slip does
        corrupted = pl.concat([corrupted, corrupted[extra]]).sort(
            "mouo_code", "school_code", "participant_key", maintain_order=True)
    return corrupted, truth


def generate_region(options: GeneratorOptions) -> SyntheticRegion:
    if options.participants < 1:
        raise ValueError("participants must be at least 1")
    if not 0.0 <= options.error_rate <= 1.0:
        raise ValueError("error_rate must be between 0 and 1")
    rng = np.random.default_rng(options.seed)
    mouos, schools = _structure(options, rng)
    participants = _people(options, schools, rng)
    participants = participants.join(
        schools.select("school_code", "mouo_code"), on="school_code").sort("participant_key")
    rooms = _rooms(participants, schools)
    rows = submission_frame(participants.drop("mouo_code"), schools)
    rows, errors = _inject(rows, options, schools, rng)
    silent = set(mouos["mouo_code"].to_list()[len(mouos) - options.silent_mouos:]) \
        if options.silent_mouos else set()
    rows = rows.filter(~pl.col("mouo_code").is_in(sorted(silent)))
    errors = errors.filter(~pl.col("mouo_code").is_in(sorted(silent)))
    # Row numbers as the МОУО file will have them (1 = first data row under the header).
    rows = rows.with_columns((pl.int_range(pl.len()).over("mouo_code") + 1).alias("row_number"))
    spans = rows.group_by("participant_key").agg(
        pl.col("row_number").min().alias("first_row"), pl.col("row_number").max().alias("last_row"))
    errors = (
        errors.join(spans, on="participant_key")
        .with_columns(pl.when(pl.col("error") == InjectedError.DUPLICATE_ROW.value)
                      .then(pl.col("last_row")).otherwise(pl.col("first_row")).alias("row_number"))
        .drop("first_row", "last_row")
        .sort("mouo_code", "row_number")
    )
    planned = participants.group_by("school_code").len("planned_participants")
    schools = schools.join(planned, on="school_code", how="left").with_columns(
        pl.col("planned_participants").fill_null(0))
    return SyntheticRegion(options, mouos, schools, rooms, participants, rows, errors)
