"""The publish stage's domain: the release instant per zone, the decision at `now`, the page
(HTML and JSON), the topic files and the Russian mail texts."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from config import TOPICS_DIR
from tasks.adapters.plan_files import load_calendar, load_plan, resolve_plan_path
from tasks.domain.plan import DateRef, NotBefore, resolve_plan
from tasks.domain.publish import (
    PUBLISH_GRACE,
    Recipient,
    ReleaseRule,
    TopicSet,
    ensure_due,
    first_release,
    is_due,
    late_alert_mail,
    lateness_s,
    page_html,
    page_json,
    parse_topic_set,
    publication_markdown,
    release_rule,
    too_early_text,
    topics_mail,
    zone_releases,
)
from tasks.errors import DataError, PlanError, PublishError
from tests.publish_support import EXAM_DAY, UTC_0945, publish_plan

NOVOKUZNETSK = "Asia/Novokuznetsk"
DIRECTIONS_2017 = [
    "Верность и измена",
    "Равнодушие и отзывчивость",
    "Цели и средства",
    "Смелость и трусость",
    "Человек и общество",
]


def rule_of(plan_id: str, session: str) -> ReleaseRule:
    plan = load_plan(resolve_plan_path(plan_id))
    return release_rule(resolve_plan(plan, session, load_calendar(plan.calendar)))


def kemerovo_rule() -> ReleaseRule:
    return rule_of("kemerovo-2017-essay", EXAM_DAY)


def topic_set(**changes: Any) -> TopicSet:
    document: dict[str, Any] = {
        "session": EXAM_DAY,
        "procedure": "ИС-11",
        "title": "Темы итогового сочинения (изложения)",
        "directions": [
            {
                "number": 1,
                "title": "Верность и измена",
                "topics": [{"number": "101", "title": "А"}],
            },
            {"number": 2, "title": "Цели и средства", "topics": [{"number": "201", "title": "Б"}]},
        ],
    }
    return parse_topic_set(document | changes, EXAM_DAY, "ИС-11")


# --- the instant -------------------------------------------------------------------------------


@pytest.mark.parametrize("region", sorted(UTC_0945))
def test_0945_local_is_its_own_instant_in_each_zone(region: str) -> None:
    plan = publish_plan(region)
    rule = release_rule(resolve_plan(plan, EXAM_DAY))
    assert rule.zone == plan.region.timezone
    assert rule.instant().astimezone(UTC).isoformat() == UTC_0945[region]
    assert rule.instant().astimezone(ZoneInfo(rule.zone)).time() == time(9, 45)
    assert rule.alert_instant() - rule.instant() == PUBLISH_GRACE == timedelta(minutes=2)


def test_kamchatka_publishes_the_evening_before_in_utc() -> None:
    rule = release_rule(resolve_plan(publish_plan("41"), EXAM_DAY))
    assert rule.instant().astimezone(UTC) == datetime(2017, 12, 5, 21, 45, tzinfo=UTC)
    assert rule.day == date(2017, 12, 6)  # the local day stays the exam day


def test_the_shipped_plans_give_0945_exact_from_their_publish_stage() -> None:
    kemerovo = kemerovo_rule()
    assert (kemerovo.stage_id, kemerovo.kind, kemerovo.at) == (
        "publish_topics",
        "exact",
        time(9, 45),
    )
    assert kemerovo.instant().astimezone(UTC) == datetime(2017, 12, 6, 2, 45, tzinfo=UTC)
    kalmykia = rule_of("kalmykia-2017-essay", EXAM_DAY)
    assert kalmykia.instant().astimezone(UTC) == datetime(2017, 12, 6, 6, 45, tzinfo=UTC)
    later = rule_of("kemerovo-2017-essay", "2018-05-16")
    assert later.instant() == datetime(2018, 5, 16, 9, 45, tzinfo=ZoneInfo(NOVOKUZNETSK))


def test_one_tenth_of_a_second_before_0945_is_refused_and_0945_is_accepted() -> None:
    rule = kemerovo_rule()
    zone = ZoneInfo(NOVOKUZNETSK)
    early = datetime(2017, 12, 6, 9, 44, 59, 900_000, tzinfo=zone)
    on_time = datetime(2017, 12, 6, 9, 45, 0, 0, tzinfo=zone)
    assert not is_due(early, rule.instant())
    assert is_due(on_time, rule.instant())
    assert is_due(on_time + timedelta(hours=3), rule.instant())
    with pytest.raises(PublishError, match="refusing to publish"):
        ensure_due(early, rule.instant())
    ensure_due(on_time, rule.instant())
    # the same instant written in UTC or Moscow time is the same decision
    assert not is_due(early.astimezone(ZoneInfo("Europe/Moscow")), rule.instant())
    assert is_due(datetime(2017, 12, 6, 2, 45, tzinfo=UTC), rule.instant())


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_due(datetime(2017, 12, 6, 9, 45), kemerovo_rule().instant())


def test_the_interview_releases_its_test_materials_at_0730_not_before() -> None:
    rule = rule_of("tomsk-2024-interview", "2024-02-14")
    tomsk = ZoneInfo("Asia/Tomsk")
    assert (rule.stage_id, rule.kind) == ("open_kim", "not_before")
    assert rule.instant() == datetime(2024, 2, 14, 7, 30, tzinfo=tomsk)
    assert rule.instant().astimezone(UTC) == datetime(2024, 2, 14, 0, 30, tzinfo=UTC)
    assert not is_due(datetime(2024, 2, 14, 7, 29, 59, 900_000, tzinfo=tomsk), rule.instant())
    assert is_due(datetime(2024, 2, 14, 7, 30, tzinfo=tomsk), rule.instant())
    assert rule.alert_instant() == datetime(2024, 2, 14, 7, 32, tzinfo=tomsk)


def test_the_interview_documents_a_week_earlier_are_not_the_release() -> None:
    plan = load_plan(resolve_plan_path("tomsk-2024-interview"))
    stages = resolve_plan(plan, "2024-02-14", load_calendar(plan.calendar))
    documents = next(s for s in stages if s.stage_id == "open_documents")
    assert documents.start == datetime(2024, 2, 7, 10, 0, tzinfo=ZoneInfo("Asia/Tomsk"))
    assert release_rule(stages).instant() > documents.start


def test_the_release_time_comes_from_the_plan_not_a_constant() -> None:
    rule = release_rule(resolve_plan(publish_plan("42", at="08:15", kind="not_before"), EXAM_DAY))
    assert rule.instant() == datetime(2017, 12, 6, 8, 15, tzinfo=ZoneInfo(NOVOKUZNETSK))


def test_a_plan_without_a_publish_stage_or_with_two_is_refused_clearly() -> None:
    plan = load_plan(resolve_plan_path("kuzbass-2024-roadmap"))
    with pytest.raises(PlanError, match="no publish stage"):
        release_rule(resolve_plan(plan, "2024-05-28", load_calendar(plan.calendar)))
    second = {
        "id": "publish_again",
        "title": "Ещё одна публикация",
        "stage": "publish",
        "time": {"kind": "exact", "at": {"offset": 0, "time": "10:00"}},
    }
    two = resolve_plan(publish_plan("42", extra_stages=(second,)), EXAM_DAY)
    with pytest.raises(PlanError, match="several publish stages"):
        release_rule(two)
    assert release_rule(two, "publish_again").at == time(10, 0)


def test_a_not_before_without_a_time_of_day_cannot_be_a_release() -> None:
    plan = publish_plan("42", kind="not_before")
    stage = plan.stages[0]
    day_only = stage.model_copy(update={"time": NotBefore(kind="not_before", at=DateRef(offset=0))})
    with pytest.raises(PlanError, match="time of day"):
        release_rule(resolve_plan(plan.model_copy(update={"stages": [day_only]}), EXAM_DAY))


def test_publication_starts_at_0945_or_earlier_for_recipients_east_of_the_region() -> None:
    start = first_release(kemerovo_rule())
    assert start == datetime(2017, 12, 6, 9, 45, tzinfo=ZoneInfo(NOVOKUZNETSK))
    assert str(start.tzinfo) == NOVOKUZNETSK
    east = first_release(kemerovo_rule(), ["Asia/Vladivostok", "Europe/Moscow"])
    assert east == datetime(2017, 12, 6, 6, 45, tzinfo=ZoneInfo(NOVOKUZNETSK))  # 09:45 +10


def test_lateness_counts_seconds_after_the_instant_never_negative() -> None:
    at = kemerovo_rule().instant()
    assert lateness_s(at + timedelta(seconds=3, milliseconds=250), at) == 3.25
    assert lateness_s(at - timedelta(seconds=1), at) == 0.0


def test_the_refusal_says_when_in_local_time_in_russian() -> None:
    rule = kemerovo_rule()
    now = datetime(2017, 12, 6, 2, 44, 59, 900_000, tzinfo=UTC)
    text = too_early_text(rule, now, rule.instant(), rule.zone)
    assert "рано" in text
    assert "06.12.2017 09:44:59.9" in text
    assert "06.12.2017 09:45:00" in text
    assert NOVOKUZNETSK in text


# --- zones -------------------------------------------------------------------------------------


def test_recipients_are_grouped_by_zone_and_the_page_opens_when_it_is_0945_everywhere() -> None:
    rule = kemerovo_rule()  # Asia/Novokuznetsk, UTC+7
    recipients = [
        Recipient("mouo", "42-01", ("uo01@obr42.example",)),
        Recipient("school", "4201001", ("s1@obr42.example",)),
        Recipient("school", "4201002", (), NOVOKUZNETSK),  # its own zone, the region's
        Recipient("school", "4201003", ("s3@obr42.example",), "Asia/Irkutsk"),  # UTC+8
        Recipient("school", "4201004", ("s4@obr42.example",), "Asia/Omsk"),  # UTC+6
    ]
    zones = zone_releases(rule, recipients)
    assert [z.zone for z in zones] == ["Asia/Irkutsk", NOVOKUZNETSK, "Asia/Omsk"]
    assert [z.at.astimezone(UTC).strftime("%H:%M") for z in zones] == ["01:45", "02:45", "03:45"]
    by_zone = {z.zone: z for z in zones}
    assert [r.code for r in by_zone[NOVOKUZNETSK].recipients] == ["42-01", "4201001", "4201002"]
    assert [z.opens_page for z in zones] == [False, False, True]  # nobody reads it before 09:45
    assert by_zone["Asia/Omsk"].alert_at.astimezone(ZoneInfo("Asia/Omsk")).time() == time(9, 47)


def test_a_region_without_recipients_still_has_its_zone_and_its_page() -> None:
    [zone] = zone_releases(kemerovo_rule(), [])
    assert (zone.zone, zone.recipients, zone.opens_page) == (NOVOKUZNETSK, (), True)


def test_on_a_tie_the_regions_own_zone_opens_the_page() -> None:
    rule = kemerovo_rule()
    zones = zone_releases(rule, [Recipient("school", "4201001", (), "Asia/Krasnoyarsk")])
    assert {z.zone: z.opens_page for z in zones} == {NOVOKUZNETSK: True, "Asia/Krasnoyarsk": False}


# --- the page ----------------------------------------------------------------------------------


class _Balance(HTMLParser):
    VOID = frozenset({"meta", "link", "br", "img", "hr", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.decl: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.decl.append(decl)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_page_is_valid_simple_russian_html() -> None:
    topics = parse_topic_set(
        yaml.safe_load((TOPICS_DIR / f"{EXAM_DAY}.yaml").read_text(encoding="utf-8")), EXAM_DAY
    )
    rule = kemerovo_rule()
    page = page_html(topics, rule, "Кемеровская область", rule.zone)
    parser = _Balance()
    parser.feed(page)
    parser.close()
    assert parser.decl == ["DOCTYPE html"]
    assert parser.errors == []
    assert parser.stack == []
    assert '<html lang="ru">' in page
    assert '<meta charset="utf-8">' in page
    text = "".join(parser.text)
    assert "Направление 1. «Верность и измена»" in text
    assert "с 09:45 по местному времени (Asia/Novokuznetsk)" in text
    assert all(t.title in text for d in topics.directions for t in d.topics)
    assert page.count("<li>") == topics.count == 7


def test_the_page_escapes_every_text() -> None:
    topics = topic_set(
        title='Темы <script>alert("x")</script>',
        directions=[
            {
                "number": 1,
                "title": "Верность & <измена>",
                "topics": [{"number": "101", "title": "«Кавычки» \"и\" 'апострофы' <b>"}],
            }
        ],
    )
    rule = kemerovo_rule()
    page = page_html(topics, rule, 'Край <i>"', rule.zone)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "Верность &amp; &lt;измена&gt;" in page
    assert "&quot;и&quot; &#x27;апострофы&#x27; &lt;b&gt;" in page
    assert "Край &lt;i&gt;&quot;" in page
    parser = _Balance()
    parser.feed(page)
    assert parser.errors == []
    assert parser.stack == []


def test_the_json_holds_the_topics_and_the_instant_and_is_the_same_bytes_each_time() -> None:
    topics = topic_set()
    rule = kemerovo_rule()
    data = page_json(topics, rule, "Кемеровская область", "kemerovo-2017-essay", rule.zone)
    assert data == page_json(topics, rule, "Кемеровская область", "kemerovo-2017-essay", rule.zone)
    document = json.loads(data.decode("utf-8"))
    assert document["schema"] == "rcoi.topics/1"
    assert document["session"] == EXAM_DAY
    assert document["release_at"] == "2017-12-06T09:45:00+07:00"
    assert document["zone"] == NOVOKUZNETSK
    assert document["directions"][0] == {
        "number": 1,
        "title": "Верность и измена",
        "topics": [{"number": "101", "title": "А"}],
    }
    assert "Верность" in data.decode("utf-8")  # UTF-8, not \\u escapes


# --- topic files -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(TOPICS_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_topic_file_is_valid(path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    topics = parse_topic_set(document, path.stem)
    assert topics.count >= 1
    if topics.procedure == "ИС-11":  # the five 2017/18 directions, 1-2 topics each
        assert [d.title for d in topics.directions] == DIRECTIONS_2017
        assert all(1 <= len(d.topics) <= 2 for d in topics.directions)


def test_every_session_of_a_plan_with_a_publish_stage_has_shipped_topics() -> None:
    for plan_id in ("kalmykia-2017-essay", "kemerovo-2017-essay", "tomsk-2024-interview"):
        plan = load_plan(resolve_plan_path(plan_id))
        for session in plan.sessions:
            assert (TOPICS_DIR / f"{session.id}.yaml").exists(), (plan_id, session.id)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {
                "directions": [
                    {"number": 1, "title": "А", "topics": [{"number": "201", "title": "Т"}]}
                ]
            },
            "нет направления 2",
        ),
        (
            {
                "directions": [
                    {"number": 1, "title": "А", "topics": [{"number": "1x1", "title": "Т"}]}
                ]
            },
            "3 цифры",
        ),
        (
            {
                "directions": [
                    {"number": 1, "title": "А", "topics": [{"number": "101", "title": "Т"}]},
                    {"number": 2, "title": "Б", "topics": [{"number": "101", "title": "Т"}]},
                ]
            },
            "не относится к направлению 2",
        ),
        ({"directions": []}, "directions"),
        ({"session": "2018-02-07"}, "относится к сроку 2018-02-07"),
        ({"procedure": "ИС-9"}, "для процедуры ИС-9"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_bad_topic_file_is_refused_with_a_russian_reason(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        topic_set(**change)


# --- mail and the summary ----------------------------------------------------------------------


def test_the_topics_mail_names_the_recipient_the_instant_and_every_topic() -> None:
    topics = topic_set()
    rule = kemerovo_rule()
    mouo = Recipient("mouo", "42-05", ("uo05@obr42.example",))
    subject, body = topics_mail(topics, mouo, rule.instant(), rule.zone, "https://rcoi.example/t/")
    assert subject == "Темы итогового сочинения (изложения): срок 06.12.2017"
    assert body.startswith("Уважаемые коллеги (МОУО 42-05)!")
    assert "Темы открыты с 09:45 06.12.2017 по местному времени (Asia/Novokuznetsk)" in body
    assert "  101. А" in body
    assert "Направление 2. «Цели и средства»" in body
    assert "https://rcoi.example/t/" in body
    assert "uo05@" not in body
    school = Recipient("school", "4205001", ("s@obr42.example",))
    assert "(ОО 4205001)" in topics_mail(topics, school, rule.instant(), rule.zone, None)[1]


def test_the_coordinators_alert_says_nothing_is_out_by_0947_or_how_late_it_was() -> None:
    rule = kemerovo_rule()
    subject, body = late_alert_mail(rule, EXAM_DAY, rule.zone, None)
    assert subject == f"Темы не опубликованы к 09:47: срок {EXAM_DAY} ({NOVOKUZNETSK})"
    assert "не опубликованы и не разосланы" in body
    late = rule.instant() + timedelta(minutes=4, seconds=5)
    subject, body = late_alert_mail(rule, EXAM_DAY, rule.zone, late)
    assert subject.startswith("Темы опубликованы с опозданием")
    assert "в 09:49:05" in body
    assert "на 245 с" in body


def test_the_markdown_summary_holds_counts_only() -> None:
    summary = {"session": EXAM_DAY, "status": "published", "topics": 7, "sha256": "ab" * 32}
    zones = [{"zone": NOVOKUZNETSK, "release_at": "2017-12-06T09:45:00+07:00", "sent": 3}]
    text = publication_markdown(summary, zones)
    assert "опубликовано" in text
    assert (
        f"| {NOVOKUZNETSK} | 06.12.2017 09:45 ({NOVOKUZNETSK}, UTC+07:00) | 3 | 0 | 0 | 0 |" in text
    )
    assert "@" not in text
