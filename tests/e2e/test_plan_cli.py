"""`rcoi plan show|check` on plans a coordinator gets wrong: Russian messages that name the file,
the line, the stage and the field; 24:00 read as the end of its day; local times a clock change
skipped (an error) or repeated (a warning) flagged instead of silently shifted."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app
from flows.cli.common import EXIT_DONE, EXIT_REFUSED, EXIT_USAGE

PLAN = """\
schema_version: 1
id: moscow-2010
title: План-график
procedure: ИС-11
school_year: {year}
region: {{code: "77", name: Москва{zone}}}
stages:
  - id: publish_topics
    row: "10"
    title: Публикация тем
    time: {{kind: exact, at: {{date: {day}, time: "{at}"}}}}
"""


def _plan(tmp_path: Path, *, day: str, at: str, zone: str = "Europe/Moscow") -> Path:
    path = tmp_path / "plan.yaml"
    year = f"{int(day[:4]) - 1}/{day[2:4]}" if day[5:7] < "07" else f"{day[:4]}/{int(day[2:4]) + 1}"
    text = PLAN.format(year=year, zone=f", timezone: {zone}" if zone else "", day=day, at=at)
    path.write_text(text, encoding="utf-8")
    return path


def test_plan_check_flags_a_local_time_that_never_came(tmp_path: Path) -> None:
    path = _plan(tmp_path, day="2011-03-27", at="02:30")
    result = CliRunner().invoke(app, ["plan", "check", str(path)])
    assert result.exit_code == EXIT_REFUSED, result.output
    assert "ОШИБКА [nonexistent-time] этап publish_topics:" in result.stdout
    assert "местного времени 27.03.2011 02:30 (Europe/Moscow) не существует" in result.stdout
    shown = CliRunner().invoke(app, ["plan", "show", str(path)])
    assert shown.exit_code == EXIT_DONE, shown.output
    assert "nonexistent-time" in shown.stdout  # noted under the table


def test_plan_check_warns_of_a_local_time_that_came_twice(tmp_path: Path) -> None:
    path = _plan(tmp_path, day="2010-10-31", at="02:30")
    result = CliRunner().invoke(app, ["plan", "check", str(path)])
    assert result.exit_code == EXIT_DONE, result.output
    assert "ВНИМАНИЕ [ambiguous-time] этап publish_topics:" in result.stdout
    assert "31.10.2010 02:30 (Europe/Moscow) наступает дважды" in result.stdout


def test_24_00_is_accepted_and_shown_as_the_next_days_midnight(tmp_path: Path) -> None:
    path = _plan(tmp_path, day="2017-12-05", at="24:00")
    checked = CliRunner().invoke(app, ["plan", "check", str(path)])
    assert checked.exit_code == EXIT_DONE, checked.output
    shown = CliRunner().invoke(app, ["plan", "show", str(path)])
    assert shown.exit_code == EXIT_DONE, shown.output
    row = next(line for line in shown.stdout.splitlines() if "publish_topics" in line)
    assert "06.12.2017 00:00" in row  # starts at the end of 05.12
    assert "06.12.2017 24:00" in row  # and runs through that day


def test_plan_errors_are_russian_and_name_the_file_line_stage_and_field(tmp_path: Path) -> None:
    runner = CliRunner()
    hour = _plan(tmp_path, day="2017-12-06", at="25:00")
    for command in ("check", "show"):
        result = runner.invoke(app, ["plan", command, str(hour)])
        text = result.stdout + result.stderr
        assert result.exit_code == (EXIT_REFUSED if command == "check" else EXIT_USAGE), text
        assert str(hour) in text
        assert "строка 11, этап publish_topics (строка 10 таблицы), поле time.at.time" in text
        assert "указано «25:00»" in text
        assert "hour value" not in text
    no_zone = _plan(tmp_path, day="2017-12-06", at="09:45", zone="")
    shown = runner.invoke(app, ["plan", "show", str(no_zone)])
    assert shown.exit_code == EXIT_USAGE
    assert shown.stderr.startswith(f"Ошибка: {no_zone}: этап publish_topics (строка 10)")
    assert "не указан часовой пояс — поле region.timezone плана или zone этапа" in shown.stderr
