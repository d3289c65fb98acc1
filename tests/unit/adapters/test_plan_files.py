"""Plan files: the shipped plans load and check clean; broken files become problems, not crashes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config import PLANS_DIR
from tasks.adapters.plan_files import inspect_plan, load_calendar, load_plan
from tasks.domain.plan import ResolvedStage, Severity, resolve_plan
from tasks.errors import PlanError

SHIPPED = [
    "kalmykia-2017-essay",
    "kemerovo-2017-essay",
    "tomsk-2024-interview",
    "kuzbass-2024-roadmap",
    "megion-2024-roadmap",
]
NOVOKUZNETSK = ZoneInfo("Asia/Novokuznetsk")

MINIMAL = """\
schema_version: 1
id: broken-plan
title: План-график
procedure: ИС-11
school_year: 2017/18
region: {{code: "42", name: Кемеровская область{zone}}}
sessions:
  - {{id: 2017-12-06, exam_date: 2017-12-06}}
stages:
  - id: publish_topics
    title: Публикация тем
    time: {{kind: exact, at: {{offset: 0, time: {time}}}}}
"""


def _stage(plan_id: str, stage_id: str, session_id: str | None = None) -> ResolvedStage:
    plan = load_plan(PLANS_DIR / f"{plan_id}.yaml")
    resolved = {s.stage_id: s for s in resolve_plan(plan, session_id, load_calendar())}
    return resolved[stage_id]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- shipped plans ------------------------------------------------------------------------------


@pytest.mark.parametrize("plan_id", SHIPPED)
def test_a_shipped_plan_loads_and_has_no_errors(plan_id: str) -> None:
    report = inspect_plan(PLANS_DIR / f"{plan_id}.yaml")
    assert report.plan is not None
    assert report.plan.id == plan_id
    assert report.ok, [p for p in report.problems if p.severity is Severity.ERROR]
    stale = {"stale-year"} if plan_id == "kuzbass-2024-roadmap" else set()  # the source's own
    assert (
        not {p.code for p in report.problems}
        & {"stale-year", "unresolvable", "no-calendar"} - stale
    )


def test_kemerovo_publishes_topics_at_0945_novokuznetsk_time() -> None:
    publish = _stage("kemerovo-2017-essay", "publish_topics", "2017-12-06")
    assert publish.kind == "exact"
    assert publish.start == datetime(2017, 12, 6, 9, 45, tzinfo=NOVOKUZNETSK)
    assert publish.start == datetime(2017, 12, 6, 2, 45, tzinfo=UTC)
    assert publish.start.astimezone(UTC).strftime("%H:%M") == "02:45"


@pytest.mark.parametrize(
    ("session_id", "day"),
    [
        ("2017-12-06", date(2017, 12, 19)),
        ("2018-02-07", date(2018, 2, 20)),
        ("2018-05-16", date(2018, 5, 28)),
    ],  # May: the same day as the results (override)
)
def test_kemerovo_informs_participants_on_the_day_of_appendix_4(session_id: str, day: date) -> None:
    inform = _stage("kemerovo-2017-essay", "inform_participants", session_id)
    assert inform.session_id == session_id
    assert inform.start is not None
    assert inform.start.date() == day
    assert inform.start.tzinfo == NOVOKUZNETSK


def test_kalmykia_publishes_topics_at_0645_utc() -> None:
    publish = _stage("kalmykia-2017-essay", "publish_topics")
    assert publish.start == datetime(2017, 12, 6, 6, 45, tzinfo=UTC)
    assert publish.start.strftime("%H:%M") == "09:45"


def test_kalmykia_duplicate_row_8_is_reported() -> None:
    report = inspect_plan(PLANS_DIR / "kalmykia-2017-essay.yaml")
    duplicates = [p for p in report.problems if p.code == "duplicate-row"]
    assert len(duplicates) == 1
    assert "8" in duplicates[0].message
    assert "hand_over_kits, readiness_meeting" in duplicates[0].message


def test_tomsk_bare_do_is_reported_as_ambiguous_and_resolved_strictly() -> None:
    report = inspect_plan(PLANS_DIR / "tomsk-2024-interview.yaml")
    ambiguous = [p for p in report.problems if p.code == "ambiguous-deadline"]
    assert [p.stage_id for p in ambiguous] == ["assign_students"]
    assert ambiguous[0].severity is Severity.WARNING
    assert "До 31.01.2024" in ambiguous[0].message
    assign = _stage("tomsk-2024-interview", "assign_students")
    assert assign.ambiguous is True
    assert assign.due == datetime(2024, 1, 31, tzinfo=ZoneInfo("Asia/Tomsk"))


def test_the_kuzbass_road_map_uses_months_deadlines_windows_and_external_references() -> None:
    plan = load_plan(PLANS_DIR / "kuzbass-2024-roadmap.yaml")
    assert (plan.region.code, plan.region.timezone) == ("42", "Asia/Novokuznetsk")
    assert (plan.procedure, plan.school_year) == ("ГИА-11", "2023/24")
    assert len(plan.stages) == 442  # the whole road map, not an excerpt
    assert {stage.time.kind for stage in plan.stages} == {
        "month",
        "months",
        "deadline",
        "window",
        "external",
    }
    # the source's words kept on every row whose term cell is filled (8 are blank in the source,
    # each with a note saying which span was taken)
    assert all(
        stage.term or "срок в строке не указан" in (stage.note or "") for stage in plan.stages
    )
    assert plan.sessions  # some rows count from the exam day
    resolved = {s.stage_id: s for s in resolve_plan(plan, "2024-06-10", load_calendar())}
    # Monday 10.06.2024: one working day before is Friday, one calendar day before is Sunday.
    assert resolved["ris_observers"].due == datetime(2024, 6, 8, tzinfo=NOVOKUZNETSK)
    assert resolved["ris_commission_members"].due == datetime(2024, 6, 10, tzinfo=NOVOKUZNETSK)
    assert resolved["seating"].start == datetime(2024, 6, 7, tzinfo=NOVOKUZNETSK)
    assert "ris_ege" not in resolved  # a row of months: tracked once, in the year session
    year = {s.stage_id: s for s in resolve_plan(plan, "2023-24", load_calendar())}
    ris = year["ris_ege"]  # «август 2023 года – август 2024 года»
    assert ris.start == datetime(2023, 8, 1, tzinfo=NOVOKUZNETSK)
    assert ris.end == datetime(2024, 9, 1, tzinfo=NOVOKUZNETSK)
    assert year["essay_processing"].unresolved is True
    assert len(year) + len(resolved) == len(plan.stages)


def test_the_kuzbass_road_map_warns_only_about_what_its_source_leaves_open() -> None:
    report = inspect_plan(PLANS_DIR / "kuzbass-2024-roadmap.yaml")
    codes = [p.code for p in report.problems]
    assert set(codes) == {"unresolved-external", "stale-year"}
    assert codes.count("unresolved-external") == 30
    external = {p.stage_id for p in report.problems if p.code == "unresolved-external"}
    assert {"order_materials", "special_packages", "essay_processing"} <= external
    # «апрель 2023 года» among April 2024 rows, «январь 2023 года»: the source's, kept
    stale = {p.stage_id for p in report.problems if p.code == "stale-year"}
    assert stale == {"np_1_32", "org_8_1_1"}
    text = (PLANS_DIR / "kuzbass-2024-roadmap.yaml").read_text(encoding="utf-8")
    assert "np_1_32" in text.split("schema_version")[0]  # each warning explained in the header


def test_the_megion_road_map_is_whole_and_tracked_in_its_year_session() -> None:
    plan = load_plan(PLANS_DIR / "megion-2024-roadmap.yaml")
    assert len(plan.stages) == 62
    assert plan.sessions == []
    assert plan.year_session is not None
    resolved = resolve_plan(plan, None, load_calendar())
    assert len(resolved) == 62
    by_id = {s.stage_id: s for s in resolved}
    # «март, май, январь 2024 года»: three periods, each due at the end of its month
    analysis = by_id["s1_5"]
    assert analysis.kind == "months"
    assert [due.date() for due in analysis.occurrences] == [
        date(2024, 2, 1),
        date(2024, 4, 1),
        date(2024, 6, 1),
    ]
    report = inspect_plan(PLANS_DIR / "megion-2024-roadmap.yaml")
    assert {p.code for p in report.problems} == {"unresolved-external"}


# --- broken files -------------------------------------------------------------------------------


def test_a_plan_file_written_like_the_shipped_ones_loads(tmp_path: Path) -> None:
    report = inspect_plan(
        _write(tmp_path, MINIMAL.format(zone=", timezone: Asia/Novokuznetsk", time='"09:45"'))
    )
    assert report.plan is not None
    assert report.problems == []


def test_an_unquoted_time_of_day_is_read_as_a_time_not_a_base_60_number(tmp_path: Path) -> None:
    text = MINIMAL.format(zone=", timezone: Asia/Novokuznetsk", time="10:00")
    plan = load_plan(_write(tmp_path, text))
    publish = resolve_plan(plan)[0]
    assert publish.start == datetime(2017, 12, 6, 10, 0, tzinfo=NOVOKUZNETSK)


def test_broken_yaml_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = _write(tmp_path, "schema_version: 1\nstages: [\n  - id: a\n")
    report = inspect_plan(path)
    assert report.plan is None
    assert not report.ok
    assert [p.code for p in report.problems] == ["unreadable"]
    assert "ошибка синтаксиса YAML (строка 3" in report.problems[0].message
    with pytest.raises(PlanError, match="ошибка синтаксиса YAML"):
        load_plan(path)


def test_an_unknown_key_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    text = MINIMAL.format(zone=", timezone: Asia/Novokuznetsk", time='"09:45"')
    text = text.replace(
        "    title: Публикация тем\n", "    title: Публикация тем\n    dedline: 1\n"
    )
    report = inspect_plan(_write(tmp_path, text))
    assert report.plan is None
    assert not report.ok
    assert [p.code for p in report.problems] == ["unreadable"]
    assert "строка 12, этап publish_topics, поле dedline: лишнее поле" in report.problems[0].message


def test_a_plan_without_a_zone_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    report = inspect_plan(_write(tmp_path, MINIMAL.format(zone="", time='"09:45"')))
    assert report.plan is not None
    assert not report.ok
    assert [(p.code, p.stage_id) for p in report.problems] == [("missing-zone", "publish_topics")]


def test_a_zone_that_names_a_folder_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    report = inspect_plan(_write(tmp_path, MINIMAL.format(zone=", timezone: Asia", time='"09:45"')))
    assert not report.ok
    assert [p.code for p in report.problems] == ["unknown-zone"]


def test_a_missing_file_or_calendar_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    report = inspect_plan(tmp_path / "absent.yaml")
    assert report.plan is None
    assert [p.code for p in report.problems] == ["unreadable"]

    text = MINIMAL.format(zone=", timezone: Asia/Novokuznetsk", time='"09:45"')
    report = inspect_plan(_write(tmp_path, "calendar: mars\n" + text))
    assert report.ok
    assert [p.code for p in report.problems] == ["no-calendar"]


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        (
            '"25:00"',
            "поле time.at.time: ожидается время ЧЧ:ММ (от 00:00 до 24:00), указано «25:00»",
        ),
        ("9.45", "поле time.at.time: время пишется в кавычках как «ЧЧ:ММ», указано число 9.45"),
    ],
)
def test_a_schema_error_names_the_file_line_stage_row_and_field_in_russian(
    tmp_path: Path, time: str, expected: str
) -> None:
    text = MINIMAL.format(zone=", timezone: Asia/Novokuznetsk", time=time)
    path = _write(
        tmp_path,
        text.replace("    title: Публикация тем\n", '    row: "10"\n    title: Публикация тем\n'),
    )
    with pytest.raises(PlanError) as raised:
        load_plan(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: не по схеме плана: строка 13, ")
    assert f"этап publish_topics (строка 10 таблицы), {expected}" in message
    assert "hour value" not in message
    assert "Input should" not in message


def test_24_00_in_a_plan_file_is_the_end_of_that_day(tmp_path: Path) -> None:
    report = inspect_plan(
        _write(tmp_path, MINIMAL.format(zone=", timezone: Asia/Novokuznetsk", time='"24:00"'))
    )
    assert report.plan is not None, report.problems
    assert report.ok
    [publish] = resolve_plan(report.plan)
    assert publish.start == datetime(2017, 12, 7, tzinfo=NOVOKUZNETSK)
