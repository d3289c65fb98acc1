"""The deadline watchdog: which notices are due at an instant, their keys and their Russian mail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tasks.domain.watchdog import (
    DEFAULT_POLICY,
    Check,
    Notice,
    NoticeKind,
    Policy,
    evaluate,
    notice_mail,
)

ZONE = "Asia/Novokuznetsk"  # UTC+7, the Kemerovo region
NOVOKUZNETSK = ZoneInfo(ZONE)
MOSCOW = ZoneInfo("Europe/Moscow")  # UTC+3
SESSION = "2017-12-06"
TITLE = "Передача баз МОУО с персональными данными участников ИС (ИЗ) в РЦОИ"
# «не позднее 22.11.2017»: a day-only deadline ends at the next local midnight.
DUE = datetime(2017, 11, 23, tzinfo=NOVOKUZNETSK)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def check(
    party: str = "42-04",
    *,
    completed: bool = False,
    due: datetime = DUE,
    zone: str = ZONE,
    plan_stage_id: int = 1,
    session_code: str = SESSION,
    stage_key: str = "collect",
    title: str = TITLE,
) -> Check:
    return Check(
        plan_stage_id=plan_stage_id,
        session_code=session_code,
        stage_key=stage_key,
        title=title,
        due=due,
        zone=zone,
        party=party,
        completed=completed,
    )


def of_kind(notices: Sequence[Notice], kind: NoticeKind) -> list[Notice]:
    return [notice for notice in notices if notice.kind is kind]


def only(notices: Sequence[Notice], kind: NoticeKind) -> Notice:
    found = of_kind(notices, kind)
    assert len(found) == 1, found
    return found[0]


def summary(notices: Sequence[Notice]) -> list[tuple[str, str]]:
    """(kind, recipient) of every notice, in the order given."""
    return [(notice.kind.value, notice.recipient) for notice in notices]


# --- before the deadline: reminders ------------------------------------------------------------


@pytest.mark.parametrize(
    "before",
    [timedelta(days=10), 3 * DAY + HOUR, 2 * DAY, 5 * HOUR, timedelta(seconds=1)],
    ids=["10d", "3d1h", "2d", "5h", "1s"],
)
def test_a_completed_check_gets_nothing_at_any_instant(before: timedelta) -> None:
    for now in (DUE - before, DUE + before, DUE + 10 * DAY):
        assert evaluate([check(completed=True)], now) == []


@pytest.mark.parametrize(
    "before",
    [timedelta(days=30), 3 * DAY + timedelta(seconds=1), 3 * DAY + timedelta(minutes=15)],
    ids=["30d", "3d+1s", "3d+15min"],
)
def test_nothing_is_due_more_than_three_days_before_the_deadline(before: timedelta) -> None:
    assert evaluate([check()], DUE - before) == []


@pytest.mark.parametrize(
    "before",
    [3 * DAY, 3 * DAY - timedelta(seconds=1), 2 * DAY, DAY + timedelta(seconds=1)],
    ids=["exactly-3d", "3d-1s", "2d", "1d+1s"],
)
def test_between_three_days_and_one_day_before_only_the_three_day_reminder_is_due(
    before: timedelta,
) -> None:
    notices = evaluate([check()], DUE - before)

    assert summary(notices) == [("reminder", "42-04")]
    assert notices[0].key == f"watchdog:reminder:{SESSION}:collect:20171122T1700Z:42-04:3d"


@pytest.mark.parametrize(
    "before",
    [DAY, DAY - timedelta(seconds=1), 23 * HOUR, HOUR, timedelta(seconds=1)],
    ids=["exactly-1d", "1d-1s", "23h", "1h", "1s"],
)
def test_in_the_last_day_only_the_one_day_reminder_is_due(before: timedelta) -> None:
    notices = evaluate([check()], DUE - before)

    assert summary(notices) == [("reminder", "42-04")]
    assert notices[0].key == f"watchdog:reminder:{SESSION}:collect:20171122T1700Z:42-04:1d"


def test_the_one_day_reminder_has_another_key_than_the_three_day_reminder() -> None:
    three_days = only(evaluate([check()], DUE - 2 * DAY), NoticeKind.REMINDER)
    one_day = only(evaluate([check()], DUE - 2 * HOUR), NoticeKind.REMINDER)

    assert three_days.key != one_day.key


def test_a_missed_three_day_reminder_is_not_sent_late_in_the_last_day() -> None:
    """The watchdog was down until 12 h before the deadline: one reminder, the 1-day one."""
    notices = evaluate([check()], DUE - 12 * HOUR)

    assert [notice.key.rsplit(":", 1)[-1] for notice in notices] == ["1d"]


def test_exactly_at_the_deadline_the_check_is_late_and_no_reminder_is_due() -> None:
    notices = evaluate([check()], DUE)

    assert summary(notices) == [("alert", "42-04"), ("escalation", "coordinator")]


def test_a_reminder_carries_the_stage_and_deadline_of_its_check() -> None:
    reminder = only(evaluate([check("42-11")], DUE - 23 * HOUR), NoticeKind.REMINDER)

    assert reminder.recipient == "42-11"
    assert (reminder.plan_stage_id, reminder.session_code, reminder.stage_key) == (
        1,
        SESSION,
        "collect",
    )
    assert (reminder.title, reminder.due, reminder.zone) == (TITLE, DUE, ZONE)
    assert reminder.parties == ()


def test_each_incomplete_party_gets_its_own_reminder_and_the_complete_ones_none() -> None:
    checks = [check("42-11"), check("42-04"), check("42-07", completed=True)]

    notices = evaluate(checks, DUE - 2 * DAY)

    assert summary(notices) == [("reminder", "42-04"), ("reminder", "42-11")]
    assert len({notice.key for notice in notices}) == 2


def test_the_rcoi_gets_a_reminder_addressed_to_the_rcoi_party() -> None:
    notices = evaluate([check("rcoi", stage_key="reconcile")], DUE - 2 * DAY)

    assert summary(notices) == [("reminder", "rcoi")]


# --- after the deadline: alerts, escalations, the authority ------------------------------------


@pytest.mark.parametrize(
    "after",
    [timedelta(0), timedelta(seconds=1), HOUR, DAY - timedelta(seconds=1)],
    ids=["at-due", "1s", "1h", "1d-1s"],
)
def test_after_the_deadline_an_alert_and_an_escalation_are_due_but_not_yet_the_authority(
    after: timedelta,
) -> None:
    notices = evaluate([check()], DUE + after)

    assert summary(notices) == [("alert", "42-04"), ("escalation", "coordinator")]
    base = f"{SESSION}:collect:20171122T1700Z"
    assert [notice.key for notice in notices] == [
        f"watchdog:alert:{base}:42-04",
        f"watchdog:escalation:{base}:coordinator",
    ]


@pytest.mark.parametrize("after", [DAY, DAY + timedelta(seconds=1), 10 * DAY], ids=str)
def test_from_exactly_the_authority_delay_on_the_authority_digest_is_due_too(
    after: timedelta,
) -> None:
    notices = evaluate([check()], DUE + after)

    assert summary(notices) == [
        ("alert", "42-04"),
        ("escalation", "coordinator"),
        ("authority", "authority"),
    ]
    authority = only(notices, NoticeKind.AUTHORITY)
    assert authority.key == f"watchdog:authority:{SESSION}:collect:20171122T1700Z:authority"
    assert authority.parties == ("42-04",)


def test_the_authority_delay_comes_from_the_policy() -> None:
    policy = Policy(authority_delay=6 * HOUR)

    assert (
        of_kind(
            evaluate([check()], DUE + 6 * HOUR - timedelta(seconds=1), policy), NoticeKind.AUTHORITY
        )
        == []
    )
    assert len(of_kind(evaluate([check()], DUE + 6 * HOUR, policy), NoticeKind.AUTHORITY)) == 1


def test_a_zero_authority_delay_informs_the_authority_with_the_escalation() -> None:
    notices = evaluate([check()], DUE, Policy(authority_delay=timedelta(0)))

    assert summary(notices) == [
        ("alert", "42-04"),
        ("escalation", "coordinator"),
        ("authority", "authority"),
    ]


def test_a_late_rcoi_gets_no_alert_its_lateness_goes_to_the_coordinator() -> None:
    notices = evaluate([check("rcoi", stage_key="reconcile")], DUE + HOUR)

    assert summary(notices) == [("escalation", "coordinator")]
    assert notices[0].parties == ("rcoi",)


def test_the_escalation_lists_the_late_parties_sorted_and_only_the_incomplete_ones() -> None:
    checks = [
        check("42-11"),
        check("42-01", completed=True),
        check("42-04"),
        check("42-07", completed=True),
        check("42-02"),
    ]

    notices = evaluate(checks, DUE + DAY)

    assert summary(of_kind(notices, NoticeKind.ALERT)) == [
        ("alert", "42-02"),
        ("alert", "42-04"),
        ("alert", "42-11"),
    ]
    assert only(notices, NoticeKind.ESCALATION).parties == ("42-02", "42-04", "42-11")
    assert only(notices, NoticeKind.AUTHORITY).parties == ("42-02", "42-04", "42-11")


def test_a_stage_nobody_is_late_for_is_not_escalated() -> None:
    checks = [check("42-04", completed=True), check("42-11", completed=True)]

    assert evaluate(checks, DUE + 2 * DAY) == []


def test_late_checks_of_two_stages_give_one_escalation_each() -> None:
    checks = [
        check("42-04"),
        check("42-11"),
        check("rcoi", plan_stage_id=2, stage_key="reconcile", title="Сверка сведений"),
    ]

    escalations = of_kind(evaluate(checks, DUE + HOUR), NoticeKind.ESCALATION)

    assert [(e.stage_key, e.parties) for e in escalations] == [
        ("collect", ("42-04", "42-11")),
        ("reconcile", ("rcoi",)),
    ]
    assert len({e.key for e in escalations}) == 2


def test_the_same_stage_of_two_sessions_gives_one_escalation_per_session() -> None:
    later = DUE + 7 * DAY
    checks = [
        check("42-04"),
        check("42-04", plan_stage_id=9, session_code="2018-02-07", due=later),
        check("42-11", plan_stage_id=9, session_code="2018-02-07", due=later),
    ]

    notices = evaluate(checks, later + HOUR)

    escalations = of_kind(notices, NoticeKind.ESCALATION)
    assert [(e.session_code, e.parties) for e in escalations] == [
        (SESSION, ("42-04",)),
        ("2018-02-07", ("42-04", "42-11")),
    ]
    assert len({n.key for n in of_kind(notices, NoticeKind.ALERT)}) == 3


def test_a_stage_still_ahead_reminds_while_another_is_already_late() -> None:
    checks = [check("42-04"), check("42-04", plan_stage_id=2, stage_key="grade", due=DUE + 2 * DAY)]

    notices = evaluate(checks, DUE + HOUR)

    assert [(n.kind.value, n.stage_key) for n in notices] == [
        ("alert", "collect"),
        ("reminder", "grade"),
        ("escalation", "collect"),
    ]


def test_checks_may_come_as_any_iterable() -> None:
    notices = evaluate((c for c in [check("42-11"), check("42-04")]), DUE + HOUR)

    assert only(notices, NoticeKind.ESCALATION).parties == ("42-04", "42-11")


# --- keys: each notice once per party, deadline and kind ---------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (DUE - 3 * DAY, DUE - DAY - timedelta(seconds=1)),  # the 3-day reminder
        (DUE - DAY, DUE - timedelta(seconds=1)),  # the 1-day reminder
        (DUE + HOUR, DUE + 5 * HOUR),  # alert and escalation
        (DUE + DAY, DUE + 9 * DAY),  # alert, escalation and authority
    ],
    ids=["reminder-3d", "reminder-1d", "late", "authority"],
)
def test_keys_are_the_same_at_two_instants_of_the_same_phase(
    first: datetime, second: datetime
) -> None:
    checks = [check("42-04"), check("42-11"), check("rcoi", plan_stage_id=2, stage_key="reconcile")]

    keys_first = [n.key for n in evaluate(checks, first)]
    keys_second = [n.key for n in evaluate(checks, second)]

    assert keys_first
    assert keys_first == keys_second


def test_the_keys_of_the_late_phase_carry_over_to_the_authority_phase() -> None:
    late = {n.key for n in evaluate([check()], DUE + HOUR)}
    later = {n.key for n in evaluate([check()], DUE + 2 * DAY)}

    assert late < later
    assert [key.split(":")[1] for key in sorted(later - late)] == ["authority"]


def test_keys_do_not_depend_on_the_zone_of_the_clock() -> None:
    instant = DUE + HOUR

    assert [n.key for n in evaluate([check()], instant)] == [
        n.key for n in evaluate([check()], instant.astimezone(MOSCOW))
    ]


@pytest.mark.parametrize(
    "changed",
    [
        check(due=DUE + DAY),
        check(due=DUE + timedelta(minutes=30)),
        check(session_code="2018-02-07"),
        check(stage_key="reconcile"),
    ],
    ids=["other-day", "other-minute", "other-session", "other-stage"],
)
def test_keys_differ_for_another_deadline_session_or_stage(changed: Check) -> None:
    for now in (DUE - 2 * HOUR, DUE + 3 * DAY):
        keys = {n.key for n in evaluate([check()], now)}
        changed_keys = {n.key for n in evaluate([changed], now)}
        assert keys
        assert changed_keys
        assert not keys & changed_keys, now


def test_parties_of_one_stage_have_their_own_alert_keys_but_share_the_digest_keys() -> None:
    notices = evaluate([check("42-04"), check("42-11")], DUE + 2 * DAY)

    assert len({n.key for n in of_kind(notices, NoticeKind.ALERT)}) == 2
    assert len(of_kind(notices, NoticeKind.ESCALATION)) == 1
    assert len(of_kind(notices, NoticeKind.AUTHORITY)) == 1
    alone = evaluate([check("42-04")], DUE + 2 * DAY)
    assert only(alone, NoticeKind.ESCALATION).key == only(notices, NoticeKind.ESCALATION).key


def test_all_keys_of_one_evaluation_are_distinct() -> None:
    checks = [check(party) for party in ("42-01", "42-02", "42-03", "rcoi")]
    checks += [
        check(party, plan_stage_id=2, stage_key="grade", due=DUE + HOUR)
        for party in ("42-01", "42-02")
    ]

    notices = evaluate(checks, DUE + 2 * DAY)

    assert len(notices) == len({n.key for n in notices}) == 3 + 2 + 2 * 2


# --- the clock and the policy ------------------------------------------------------------------


def test_a_naive_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate([check()], datetime(2017, 11, 22, 12, 0))


def test_a_naive_clock_is_refused_even_without_checks() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate([], datetime(2017, 11, 22, 12, 0))


def test_the_default_policy_reminds_three_days_and_one_day_before_and_waits_a_day() -> None:
    assert set(DEFAULT_POLICY.reminders) == {3 * DAY, DAY}
    assert DEFAULT_POLICY.authority_delay == DAY


@pytest.mark.parametrize(
    "reminders",
    [(timedelta(0),), (-HOUR,), (DAY, timedelta(0)), (3 * DAY, -timedelta(seconds=1))],
    ids=["zero", "negative", "zero-among-others", "negative-among-others"],
)
def test_a_policy_refuses_non_positive_reminder_offsets(
    reminders: tuple[timedelta, ...],
) -> None:
    with pytest.raises(ValueError, match="positive"):
        Policy(reminders=reminders)


def test_a_policy_refuses_a_negative_authority_delay() -> None:
    with pytest.raises(ValueError, match="negative"):
        Policy(authority_delay=-timedelta(seconds=1))


def test_a_policy_without_reminders_only_reports_lateness() -> None:
    policy = Policy(reminders=())

    assert evaluate([check()], DUE - HOUR, policy) == []
    assert summary(evaluate([check()], DUE + HOUR, policy)) == [
        ("alert", "42-04"),
        ("escalation", "coordinator"),
    ]


@pytest.mark.parametrize(
    ("before", "label"),
    [
        (3 * DAY, None),
        (48 * HOUR + timedelta(seconds=1), None),
        (48 * HOUR, "2d"),
        (3 * HOUR, "2d"),
        (2 * HOUR, "2h"),
        (timedelta(minutes=1), "2h"),
    ],
    ids=["3d", "48h+1s", "48h", "3h", "2h", "1min"],
)
def test_a_custom_policy_reminds_at_its_own_offsets(before: timedelta, label: str | None) -> None:
    policy = Policy(reminders=(2 * HOUR, 48 * HOUR))  # order of the offsets does not matter

    notices = evaluate([check()], DUE - before, policy)

    assert [n.key.rsplit(":", 1)[-1] for n in notices] == ([label] if label else [])


def test_an_offset_of_hours_not_whole_days_is_labelled_in_hours() -> None:
    policy = Policy(reminders=(36 * HOUR,))

    reminder = only(evaluate([check()], DUE - 30 * HOUR, policy), NoticeKind.REMINDER)

    assert reminder.key.endswith(":42-04:36h")


def test_reminders_at_offsets_within_the_same_hour_have_different_keys() -> None:
    policy = Policy(reminders=(90 * timedelta(minutes=1), HOUR))

    earlier = only(
        evaluate([check()], DUE - 80 * timedelta(minutes=1), policy), NoticeKind.REMINDER
    )
    later = only(evaluate([check()], DUE - 30 * timedelta(minutes=1), policy), NoticeKind.REMINDER)

    assert earlier.key != later.key


# --- time zones --------------------------------------------------------------------------------


def test_a_novokuznetsk_deadline_is_compared_as_an_instant_with_a_moscow_clock() -> None:
    """Midnight in Novokuznetsk (UTC+7) is 20:00 of the day before in Moscow (UTC+3)."""
    assert DUE == datetime(2017, 11, 22, 20, 0, tzinfo=MOSCOW)

    just_before = evaluate([check()], datetime(2017, 11, 22, 19, 59, tzinfo=MOSCOW))
    at_due = evaluate([check()], datetime(2017, 11, 22, 20, 0, tzinfo=MOSCOW))
    utc_before = evaluate([check()], datetime(2017, 11, 22, 16, 59, tzinfo=UTC))

    assert summary(just_before) == [("reminder", "42-04")]
    assert summary(at_due) == [("alert", "42-04"), ("escalation", "coordinator")]
    assert summary(utc_before) == [("reminder", "42-04")]


def test_deadlines_in_different_zones_are_ordered_by_instant_not_by_wall_clock() -> None:
    """23:00 in Moscow is 03:00 next day in Novokuznetsk, later than Novokuznetsk midnight."""
    moscow_due = datetime(2017, 11, 22, 23, 0, tzinfo=MOSCOW)  # 20:00 UTC
    checks = [
        check("08-01", plan_stage_id=2, due=moscow_due, zone="Europe/Moscow"),
        check("42-04"),  # 17:00 UTC
    ]

    between = evaluate(checks, datetime(2017, 11, 22, 18, 0, tzinfo=UTC))
    after_both = evaluate(checks, datetime(2017, 11, 22, 20, 0, tzinfo=UTC))

    assert summary(between) == [
        ("alert", "42-04"),
        ("reminder", "08-01"),
        ("escalation", "coordinator"),
    ]
    assert [(n.recipient, n.zone) for n in of_kind(after_both, NoticeKind.ALERT)] == [
        ("42-04", ZONE),
        ("08-01", "Europe/Moscow"),
    ]


def test_the_key_of_a_deadline_depends_only_on_the_instant() -> None:
    in_utc = check("42-11", due=DUE.astimezone(UTC))
    notices = evaluate([check("42-04"), in_utc], DUE + HOUR)

    assert only(notices, NoticeKind.ESCALATION).key.endswith(":20171122T1700Z:coordinator")


# --- the mail ----------------------------------------------------------------------------------

LOCAL_DEADLINE = "22.11.2017 24:00 (местное время, Asia/Novokuznetsk)"


def mail(kind: NoticeKind, now: datetime, checks: Sequence[Check] | None = None) -> tuple[str, str]:
    notices = evaluate(checks if checks is not None else [check()], now)
    return notice_mail(only(notices, kind), now)


@pytest.mark.parametrize(
    ("kind", "now", "subject"),
    [
        (NoticeKind.REMINDER, DUE - 23 * HOUR, f"Напоминание: срок «{TITLE}» — 22.11.2017"),
        (NoticeKind.ALERT, DUE + HOUR, f"Срок нарушен: «{TITLE}»"),
        (NoticeKind.ESCALATION, DUE + HOUR, f"Нарушен срок «{TITLE}»: 1 исполн."),
        (NoticeKind.AUTHORITY, DUE + 2 * DAY, f"Нарушен срок «{TITLE}»: 1 исполн."),
    ],
    ids=lambda value: value.value if isinstance(value, NoticeKind) else "",
)
def test_every_kind_has_a_russian_subject_and_a_body_naming_stage_session_and_deadline(
    kind: NoticeKind, now: datetime, subject: str
) -> None:
    got_subject, body = mail(kind, now)

    assert got_subject == subject
    assert f"«{TITLE}»" in body
    assert f"(срок {SESSION})" in body
    assert LOCAL_DEADLINE in body
    assert "МОУО 42-04" in body


def test_the_reminder_body_says_when_and_how_long_is_left() -> None:
    _, body = mail(NoticeKind.REMINDER, DUE - 23 * HOUR)

    assert body.startswith("Уважаемые коллеги (МОУО 42-04)!\n\n")
    assert f"должен быть выполнен не позднее {LOCAL_DEADLINE}. Осталось 23 ч." in body
    assert "сформировано автоматически" in body


@pytest.mark.parametrize(
    ("before", "remaining"),
    [
        (3 * DAY, "Осталось 3 дн. 0 ч."),
        (2 * DAY + 5 * HOUR + timedelta(minutes=40), "Осталось 2 дн. 5 ч."),
        (DAY, "Осталось 1 дн. 0 ч."),
        (23 * HOUR, "Осталось 23 ч."),
        (HOUR, "Осталось 1 ч."),
        (timedelta(minutes=45), "Осталось 45 мин."),
    ],
    ids=["3d", "2d5h40m", "1d", "23h", "1h", "45m"],
)
def test_the_reminder_counts_the_remaining_days_and_whole_hours(
    before: timedelta, remaining: str
) -> None:
    _, body = mail(NoticeKind.REMINDER, DUE - before)

    assert remaining in body


def test_the_remaining_time_does_not_depend_on_the_zone_of_the_clock() -> None:
    now = (DUE - 23 * HOUR).astimezone(MOSCOW)

    _, body = mail(NoticeKind.REMINDER, now)

    assert "Осталось 23 ч." in body


def test_a_deadline_inside_the_day_is_written_with_its_local_time() -> None:
    due = datetime(2017, 11, 22, 18, 0, tzinfo=NOVOKUZNETSK)

    subject, body = mail(NoticeKind.REMINDER, due - 2 * HOUR, [check(due=due)])

    assert subject.endswith("— 22.11.2017")
    assert "не позднее 22.11.2017 18:00 (местное время, Asia/Novokuznetsk)" in body


def test_a_deadline_stored_in_utc_is_written_in_the_region_zone() -> None:
    subject, body = mail(NoticeKind.REMINDER, DUE - 23 * HOUR, [check(due=DUE.astimezone(UTC))])

    assert subject.endswith("— 22.11.2017")
    assert LOCAL_DEADLINE in body


def test_the_alert_tells_the_mouo_the_deadline_passed_and_the_coordinator_knows() -> None:
    _, body = mail(NoticeKind.ALERT, DUE + HOUR)

    assert body.startswith("Уважаемые коллеги (МОУО 42-04)!\n\n")
    assert f"истёк {LOCAL_DEADLINE}" in body
    assert "не зарегистрировано" in body
    assert "передана координатору РЦОИ" in body


def test_the_rcoi_reminder_is_addressed_to_the_rcoi() -> None:
    checks = [check("rcoi", stage_key="reconcile")]

    _, body = mail(NoticeKind.REMINDER, DUE - 2 * DAY, checks)

    assert body.startswith("Уважаемые коллеги (РЦОИ)!\n\n")
    assert "МОУО" not in body.split("\n\n", 1)[0]


@pytest.mark.parametrize(
    ("kind", "now", "addressee"),
    [
        (NoticeKind.ESCALATION, DUE + HOUR, "Сообщение координатору РЦОИ."),
        (NoticeKind.AUTHORITY, DUE + 2 * DAY, "Сообщение в орган управления образованием."),
    ],
    ids=["escalation", "authority"],
)
def test_the_digests_list_every_late_party_and_only_those(
    kind: NoticeKind, now: datetime, addressee: str
) -> None:
    checks = [
        check("42-11"),
        check("rcoi"),
        check("42-04"),
        check("42-07", completed=True),
    ]

    subject, body = mail(kind, now, checks)

    assert subject == f"Нарушен срок «{TITLE}»: 3 исполн."
    assert body.startswith(addressee)
    assert f"истёк {LOCAL_DEADLINE}. Этап не выполнили:\n" in body
    assert "  – МОУО 42-04\n  – МОУО 42-11\n  – РЦОИ\n" in body
    assert "42-07" not in body


def test_no_mail_carries_a_latin_party_code_or_the_internal_recipient_names() -> None:
    checks = [check("42-04"), check("rcoi")]
    texts = [
        " ".join(notice_mail(notice, now))
        for now in (DUE - 2 * DAY, DUE + 2 * DAY)
        for notice in evaluate(checks, now)
    ]

    assert len(texts) == 2 + 1 + 2
    for text in texts:
        assert "rcoi" not in text
        assert "coordinator" not in text
        assert "authority" not in text
