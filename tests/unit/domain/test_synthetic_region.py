"""The synthetic region generator: determinism, structure, plausible personal data, and injected
errors that really break the rule they claim to break (DOMAIN.md §4)."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Any

import numpy as np
import polars as pl
import pytest

from tasks.domain.identifiers import (
    DOCUMENT_TYPE_NAMES_RU,
    DocumentType,
    parse_document,
    parse_mouo_code,
    parse_name,
    parse_school_code,
    parse_snils,
)
from tasks.domain.participants import (
    CATEGORY_NAMES_RU,
    FORM_NAMES_RU,
    Category,
    Form,
    may_write_exposition,
)
from tasks.domain.synthetic_region import (
    FIRST_NAMES,
    PATRONYMICS,
    SURNAMES,
    GeneratorOptions,
    InjectedError,
    RegionInfo,
    SyntheticRegion,
    generate_region,
)
from tasks.errors import InvalidIdentifier

REGION = RegionInfo(
    code="42", name="Кемеровская область – Кузбасс", timezone="Asia/Novokuznetsk", okato="32"
)
EXAM_DATE = date(2025, 12, 3)

CATEGORY_BY_NAME = {name: category for category, name in CATEGORY_NAMES_RU.items()}
FORM_BY_NAME = {name: form for form, name in FORM_NAMES_RU.items()}
DOCUMENT_BY_NAME = {name: kind for kind, name in DOCUMENT_TYPE_NAMES_RU.items()}
# Columns of a submission row that carry participant data (not bookkeeping).
DATA_COLUMNS = (
    "snils",
    "surname",
    "name",
    "patronymic",
    "sex",
    "birth_date",
    "document_type",
    "document_series",
    "document_number",
    "category",
    "school_code",
    "class_name",
    "form",
    "oral",
    "ovz",
    "ovz_document",
    "attempt",
)


@cache
def region(
    participants: int = 2000, seed: int = 11, error_rate: float = 0.0, silent_mouos: int = 0
) -> SyntheticRegion:
    """Generated once per parameter set; frames are never mutated by the tests."""
    return generate_region(
        GeneratorOptions(
            participants=participants,
            seed=seed,
            region=REGION,
            exam_date=EXAM_DATE,
            error_rate=error_rate,
            silent_mouos=silent_mouos,
        )
    )


def erroneous() -> SyntheticRegion:
    return region(3000, 5, error_rate=0.2)


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _parse_ru_date(text: str | None) -> date | None:
    try:
        return datetime.strptime(text or "", "%d.%m.%Y").date()  # noqa: DTZ007 (a calendar day)
    except ValueError:
        return None


def _expected_submission(participant: dict[str, Any]) -> dict[str, Any]:
    """What a clean submission row of this participant holds, built from the ground truth."""
    snils = participant["snils"]
    yes_no = {True: "да", False: "нет"}
    return {
        **{column: participant[column] for column in DATA_COLUMNS},
        "snils": f"{snils[:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:]}",
        "birth_date": participant["birth_date"].strftime("%d.%m.%Y"),
        "document_type": DOCUMENT_TYPE_NAMES_RU[DocumentType(participant["document_type"])],
        "category": CATEGORY_NAMES_RU[Category(participant["category"])],
        "form": FORM_NAMES_RU[Form(participant["form"])],
        "oral": yes_no[participant["oral"]],
        "ovz": yes_no[participant["ovz"]],
        "attempt": str(participant["attempt"]),
    }


def _data(row: dict[str, Any]) -> dict[str, Any]:
    return {column: row[column] for column in DATA_COLUMNS}


def _is_valid_snils(raw: str) -> bool:
    try:
        parse_snils(raw)
    except InvalidIdentifier:
        return False
    return True


# --- determinism and sizes ---------------------------------------------------------------------

FRAMES = ("mouos", "schools", "rooms", "participants", "submissions", "errors")


def test_same_seed_gives_identical_frames() -> None:
    options = GeneratorOptions(
        participants=1500,
        seed=42,
        region=REGION,
        exam_date=EXAM_DATE,
        error_rate=0.1,
        silent_mouos=1,
    )
    first, second = generate_region(options), generate_region(options)
    for frame in FRAMES:
        assert getattr(first, frame).equals(getattr(second, frame)), frame


def test_another_seed_gives_different_data() -> None:
    first, second = region(1500, 1, error_rate=0.1), region(1500, 2, error_rate=0.1)
    for frame in ("participants", "submissions", "errors"):
        assert not getattr(first, frame).equals(getattr(second, frame)), frame
    assert first.participants["snils"].to_list() != second.participants["snils"].to_list()


@pytest.mark.parametrize("participants", [1, 37, 2500])
def test_exactly_the_requested_number_of_participants(participants: int) -> None:
    generated = region(participants, 3)
    assert generated.participants.height == participants
    assert generated.participants["participant_key"].n_unique() == participants
    assert generated.submissions.height == participants


@pytest.mark.parametrize(
    "options",
    [
        {"participants": 0},
        {"participants": 10, "error_rate": -0.1},
        {"participants": 10, "error_rate": 1.5},
    ],
)
def test_invalid_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"participants|error_rate"):
        generate_region(GeneratorOptions(seed=1, region=REGION, exam_date=EXAM_DATE, **options))


@pytest.mark.parametrize("participants", [1, 2000])
def test_every_mouo_has_a_school_of_its_own(participants: int) -> None:
    generated = region(participants, 3)
    mouos = generated.mouos["mouo_code"].to_list()
    assert len(mouos) >= 3
    assert len(set(mouos)) == len(mouos)
    for code in mouos:
        assert parse_mouo_code(code, REGION.code) == code
    assert set(generated.schools["mouo_code"]) == set(mouos)
    assert generated.schools["school_code"].is_unique().all()
    for school, mouo in generated.schools.select("school_code", "mouo_code").iter_rows():
        assert parse_school_code(school, mouo) == school


def test_room_capacity_covers_each_schools_participants() -> None:
    generated = region()
    assert generated.rooms.select("school_code", "room").is_unique().all()
    capacity = dict(
        generated.rooms.group_by("school_code").agg(pl.col("capacity").sum()).iter_rows()
    )
    counts = dict(generated.participants.group_by("school_code").len().iter_rows())
    assert set(capacity) == set(generated.schools["school_code"])  # every school has a room
    for school, count in counts.items():
        assert capacity[school] >= count, school
    planned = dict(generated.schools.select("school_code", "planned_participants").iter_rows())
    assert planned == {school: counts.get(school, 0) for school in planned}


# --- personal data -----------------------------------------------------------------------------


def test_every_snils_is_valid_and_unique() -> None:
    snils = region().participants["snils"].to_list()
    assert len(set(snils)) == len(snils)
    for value in snils:
        assert parse_snils(value) == value


def test_documents_are_valid_russian_passports_and_unique() -> None:
    people = region().participants
    assert people.select("document_series", "document_number").is_unique().all()
    for kind, series, number in people.select(
        "document_type", "document_series", "document_number"
    ).iter_rows():
        document = parse_document(kind, series, number)
        assert document.type is DocumentType.PASSPORT_RF
        assert series.startswith(REGION.okato)


def test_names_are_cyrillic_and_match_the_sex() -> None:
    people = region().participants
    assert set(people["sex"]) == {"М", "Ж"}
    for sex, surname, name, patronymic in people.select(
        "sex", "surname", "name", "patronymic"
    ).iter_rows():
        assert parse_name(surname) == surname
        assert parse_name(name, "имя") == name
        assert parse_name(patronymic, "отчество") == patronymic
        assert surname in SURNAMES[sex]
        assert name in FIRST_NAMES[sex]
        assert patronymic in PATRONYMICS[sex]
        if sex == "М":
            assert patronymic.endswith("ич"), patronymic
        else:  # «-вна», or «-ична» as in Ильинична, Кузьминична
            assert patronymic.endswith(("вна", "ична")), patronymic
            assert surname.endswith(("а", "я")), surname


def test_school_codes_belong_to_the_participants_mouo() -> None:
    generated = region()
    schools = dict(generated.schools.select("school_code", "mouo_code").iter_rows())
    for school, mouo in generated.participants.select("school_code", "mouo_code").iter_rows():
        assert schools[school] == mouo
        assert parse_school_code(school, mouo) == school


def test_categories_go_to_schools_of_their_kind() -> None:
    generated = region()
    kinds = generated.participants.join(
        generated.schools.select("school_code", "kind"), on="school_code"
    )
    spo = kinds.filter(pl.col("category") == Category.SPO.value)
    assert spo.height > 0
    assert set(spo["kind"]) == {"spo"}
    assert "spo" not in set(kinds.filter(pl.col("category") == Category.STUDENT.value)["kind"])


def test_birth_dates_are_plausible_for_the_category() -> None:
    people = region().participants
    categories = set()
    for category, birth in people.select("category", "birth_date").iter_rows():
        age = _age(birth, EXAM_DATE)
        categories.add(category)
        assert 16 <= age <= 50, (category, birth)
        if category == Category.STUDENT:
            assert 16 <= age <= 19, birth
        if category == Category.GRADUATE:
            assert age >= 18, birth
    assert {Category.STUDENT.value, Category.GRADUATE.value} <= categories


def test_ovz_share_is_about_three_percent() -> None:
    people = region(20_000, 8).participants
    share = people["ovz"].mean()
    assert 0.02 <= share <= 0.04, share
    # the supporting document is on file exactly for ОВЗ participants; oral only for them
    assert ((people["ovz_document"] != "") == people["ovz"]).all()
    assert not (people["oral"] & ~people["ovz"]).any()
    assert people["oral"].any()


def test_exposition_only_where_allowed() -> None:
    people = region().participants
    assert set(people["form"]) == {Form.ESSAY.value, Form.EXPOSITION.value}
    for category, ovz, form in people.select("category", "ovz", "form").iter_rows():
        if form == Form.EXPOSITION:
            assert may_write_exposition(Category(category), ovz), (category, ovz)


def test_in_the_first_session_everybody_is_on_the_first_attempt() -> None:
    assert set(region(3000, 4).participants["attempt"]) == {1}


@pytest.mark.parametrize(("ordinal", "allowed"), [(2, {1, 2}), (3, {1, 2, 3})])
def test_later_sessions_have_retakers_up_to_their_ordinal(ordinal: int, allowed: set[int]) -> None:
    options = GeneratorOptions(
        participants=3000, seed=4, region=REGION, exam_date=EXAM_DATE, session_ordinal=ordinal
    )
    attempts = generate_region(options).participants["attempt"]
    assert set(attempts) == allowed
    assert 0.6 < (attempts == 1).mean() < 0.95


# --- submissions without errors ----------------------------------------------------------------


def test_without_errors_the_submissions_are_the_participants() -> None:
    generated = region(2000, 9, error_rate=0.0)
    assert generated.errors.is_empty()
    rows = generated.submissions
    assert rows.height == generated.participants.height
    assert rows["participant_key"].is_unique().all()
    truth = {p["participant_key"]: p for p in generated.participants.iter_rows(named=True)}
    for row in rows.iter_rows(named=True):
        participant = truth[row["participant_key"]]
        assert row["mouo_code"] == participant["mouo_code"]
        assert _data(row) == _expected_submission(participant)


@pytest.mark.parametrize("error_rate", [0.0, 0.2])
def test_row_numbers_count_the_rows_of_each_mouo_file(error_rate: float) -> None:
    rows = region(2000, 9, error_rate=error_rate).submissions
    assert rows["mouo_code"].is_sorted()  # one МОУО's rows are contiguous, like its file
    for (mouo,), group in rows.group_by("mouo_code"):
        assert group["row_number"].to_list() == list(range(1, group.height + 1)), mouo


# --- injected errors ---------------------------------------------------------------------------


def _breaks_its_rule(
    error: str, row: dict[str, Any], previous: dict[str, Any] | None, schools: dict[str, str]
) -> bool:
    """Whether the submission row really violates the rule of the injected error."""
    kind = InjectedError(error)
    if kind is InjectedError.INVALID_SNILS:
        return not _is_valid_snils(row["snils"])
    if kind is InjectedError.LATIN_LOOKALIKE:
        try:
            parse_name(row["surname"])
        except InvalidIdentifier as exc:
            return "латинская" in str(exc)
        return False
    if kind is InjectedError.FUTURE_BIRTH_DATE:
        born = _parse_ru_date(row["birth_date"])
        return born is not None and born > EXAM_DATE
    if kind is InjectedError.ABSURD_BIRTH_DATE:
        born = _parse_ru_date(row["birth_date"])  # 29.02.1901 does not even exist
        return born is None or _age(born, EXAM_DATE) > 100
    if kind is InjectedError.MISSING_NAME:
        return not row["name"]
    if kind is InjectedError.BAD_PASSPORT:
        try:
            parse_document(
                DOCUMENT_BY_NAME[row["document_type"]],
                row["document_series"],
                row["document_number"],
            )
        except InvalidIdentifier:
            return True
        return False
    if kind is InjectedError.EXPOSITION_NOT_ELIGIBLE:
        category = CATEGORY_BY_NAME.get(row["category"])
        return (
            FORM_BY_NAME.get(row["form"]) is Form.EXPOSITION
            and row["ovz"] == "нет"
            and category is not None
            and not may_write_exposition(category, ovz=False)
        )
    if kind is InjectedError.FOREIGN_SCHOOL_CODE:
        code = row["school_code"]
        return (
            code in schools
            and schools[code] != row["mouo_code"]
            and parse_school_code(code) == code
        )
    if kind is InjectedError.UNKNOWN_CATEGORY:
        return row["category"] not in CATEGORY_BY_NAME
    return (
        previous is not None
        and _data(previous) == _data(row)
        and previous["participant_key"] == row["participant_key"]
    )


def test_every_injected_error_breaks_its_rule_in_the_row_it_points_to() -> None:
    generated = erroneous()
    schools = dict(generated.schools.select("school_code", "mouo_code").iter_rows())
    at = {
        (row["mouo_code"], row["row_number"]): row
        for row in generated.submissions.iter_rows(named=True)
    }
    assert set(generated.errors["error"]) == {kind.value for kind in InjectedError}
    assert generated.errors["participant_key"].is_unique().all()  # one error per participant
    for error in generated.errors.iter_rows(named=True):
        row = at[(error["mouo_code"], error["row_number"])]
        previous = at.get((error["mouo_code"], error["row_number"] - 1))
        assert row["participant_key"] == error["participant_key"], error
        assert _breaks_its_rule(error["error"], row, previous, schools), (error, row)


def test_the_error_column_is_the_one_that_differs_from_the_truth() -> None:
    generated = erroneous()
    truth = {p["participant_key"]: p for p in generated.participants.iter_rows(named=True)}
    at = {
        (row["mouo_code"], row["row_number"]): row
        for row in generated.submissions.iter_rows(named=True)
    }
    for error in generated.errors.iter_rows(named=True):
        row = _data(at[(error["mouo_code"], error["row_number"])])
        expected = _expected_submission(truth[error["participant_key"]])
        changed = {column for column in DATA_COLUMNS if row[column] != expected[column]}
        if error["error"] == InjectedError.DUPLICATE_ROW:
            assert changed == set(), error
            assert error["column"] == ""
        elif error["error"] == InjectedError.EXPOSITION_NOT_ELIGIBLE:
            assert error["column"] == "form"
            assert changed <= {"form", "category", "ovz", "ovz_document", "oral"}, error
        else:
            assert changed == {error["column"]}, (error, changed)


def test_rows_without_errors_are_clean() -> None:
    generated = erroneous()
    truth = {p["participant_key"]: p for p in generated.participants.iter_rows(named=True)}
    hit = set(generated.errors["participant_key"])
    clean = generated.submissions.filter(~pl.col("participant_key").is_in(sorted(hit)))
    assert clean.height == generated.participants.height - len(hit)
    assert clean["participant_key"].is_unique().all()
    for row in clean.iter_rows(named=True):
        assert _data(row) == _expected_submission(truth[row["participant_key"]])
        assert _is_valid_snils(row["snils"])


def test_the_error_rate_is_roughly_honoured() -> None:
    generated = erroneous()
    share = generated.errors.height / generated.participants.height
    assert 0.17 <= share <= 0.23, share
    duplicates = generated.errors.filter(pl.col("error") == InjectedError.DUPLICATE_ROW).height
    assert generated.submissions.height == generated.participants.height + duplicates


# --- silent МОУО -------------------------------------------------------------------------------


def test_a_silent_mouo_sends_nothing() -> None:
    generated = region(2000, 6, error_rate=0.2, silent_mouos=1)
    mouos = generated.mouos["mouo_code"].to_list()
    silent = mouos[-1]
    assert silent in set(generated.participants["mouo_code"])  # its people still exist
    assert silent not in set(generated.submissions["mouo_code"])
    assert silent not in set(generated.errors["mouo_code"])
    assert set(generated.submissions["mouo_code"]) == set(mouos[:-1])
    assert not generated.errors.is_empty()
    assert set(generated.errors["participant_key"]) <= set(generated.submissions["participant_key"])


def test_without_silent_mouos_every_mouo_sends_its_rows() -> None:
    generated = region(2000, 6, error_rate=0.2)
    assert set(generated.submissions["mouo_code"]) == set(generated.mouos["mouo_code"])
    assert set(generated.submissions["participant_key"]) == set(
        generated.participants["participant_key"]
    )


def test_a_national_size_region_still_has_valid_seven_digit_school_codes() -> None:
    from tasks.domain.synthetic_region import _structure

    options = GeneratorOptions(
        participants=1_000_000, seed=1, region=REGION, exam_date=date(2017, 12, 6)
    )
    _mouos, schools = _structure(options, np.random.default_rng(1))
    for code, mouo in schools.select("school_code", "mouo_code").iter_rows():
        assert parse_school_code(code, mouo) == code


# --- cases only reconciliation finds ------------------------------------------------------------


@cache
def cross() -> SyntheticRegion:
    return generate_region(
        GeneratorOptions(
            participants=3000,
            seed=8,
            region=REGION,
            exam_date=EXAM_DATE,
            error_rate=0.05,
            silent_mouos=1,
            registry_errors=9,
        )
    )


def _person(row: dict[str, Any]) -> tuple[str, ...]:
    return (row["surname"], row["name"], row["patronymic"], row["birth_date"])


def _document(row: dict[str, Any]) -> tuple[str, ...]:
    return (row["document_type"], row["document_series"], row["document_number"])


def test_no_registry_errors_are_made_unless_asked() -> None:
    assert region(2000, 6, error_rate=0.2, silent_mouos=1).registry_errors.is_empty()


def test_registry_errors_come_in_turn_and_in_submitting_mouos_only() -> None:
    generated = cross()
    truth = generated.registry_errors
    assert truth.height == 9
    assert dict(truth.group_by("kind").len().iter_rows()) == {
        "duplicate_snils": 3,
        "conflicting_snils": 3,
        "duplicate_document": 3,
    }
    submitting = set(generated.submissions["mouo_code"])
    assert set(truth["mouo_code"]) | set(truth["source_mouo"]) <= submitting
    assert (truth["mouo_code"] != truth["source_mouo"]).all()
    assert not set(truth["participant_key"]) & set(generated.errors["participant_key"])


def test_each_registry_error_row_is_what_its_kind_says_across_two_mouos() -> None:
    generated = cross()
    rows = generated.submissions
    schools = dict(generated.schools.select("school_code", "mouo_code").iter_rows())
    for case in generated.registry_errors.iter_rows(named=True):
        [row] = rows.filter(
            (pl.col("mouo_code") == case["mouo_code"])
            & (pl.col("row_number") == case["row_number"])
        ).to_dicts()
        assert schools[row["school_code"]] == case["mouo_code"]  # passes the МОУО's own checks
        assert _is_valid_snils(row["snils"])
        source = rows.filter(pl.col("mouo_code") == case["source_mouo"]).to_dicts()
        if case["kind"] == "duplicate_snils":
            [twin] = [r for r in source if r["snils"] == row["snils"]]
            assert _person(twin) == _person(row)
        elif case["kind"] == "conflicting_snils":
            [other] = [r for r in source if r["snils"] == row["snils"]]
            assert _person(other) != _person(row)
        else:
            [other] = [r for r in source if _document(r) == _document(row)]
            assert other["snils"] != row["snils"]


def test_a_cross_mouo_duplicate_adds_a_row_at_a_school_with_a_free_seat() -> None:
    generated = cross()
    duplicates = generated.registry_errors.filter(pl.col("kind") == "duplicate_snils").height
    assert generated.submissions.height == (
        generated.participants.height
        - generated.participants.filter(
            pl.col("mouo_code") == generated.mouos["mouo_code"][-1]
        ).height
        + generated.errors.filter(pl.col("error") == InjectedError.DUPLICATE_ROW).height
        + duplicates
    )
    seats = generated.rooms.group_by("school_code").agg(pl.col("capacity").sum())
    broken = generated.errors["participant_key"].to_list()  # rejected at collect
    used = (
        generated.submissions.filter(~pl.col("participant_key").is_in(broken))
        .group_by("school_code")
        .len("used")
        .join(seats, on="school_code")
    )
    assert used.filter(pl.col("used") > pl.col("capacity")).is_empty()


def test_registry_errors_are_deterministic() -> None:
    options = cross().options
    again = generate_region(options)
    assert again.registry_errors.equals(cross().registry_errors)
    assert again.submissions.equals(cross().submissions)
