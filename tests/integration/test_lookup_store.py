"""The participants' results lookup in the regional database (tasks/adapters/lookup_store.py),
on SQLite and PostgreSQL: only exact matches of one participant (surname and document, or a
work code), only verified and not annulled results, and the rate limit per client, per
network (always, or only in a flood) and overall, its network count served by the index. All
people here are invented."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session

from config.settings import Settings
from tasks.adapters.database import Database
from tasks.adapters.lookup_store import (
    DEGRADED_LIMIT,
    PRUNE_EVERY,
    LookupAnswer,
    allow,
    client_key,
    find_results,
    lookup_key,
    lookup_key_path,
)
from tasks.adapters.models import (
    Acknowledgement,
    Campaign,
    ExamSession,
    LookupAttempt,
    Mouo,
    Participant,
    Region,
    Registration,
    Result,
    School,
    Work,
)
from tasks.domain.identifiers import make_work_code

pytestmark = pytest.mark.integration  # a real database, both backends

NOW = datetime(2017, 12, 20, 10, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=10)
DAYS = (date(2017, 12, 6), date(2018, 2, 7), date(2018, 5, 16))


class World:
    """Three sessions and a few invented participants with their works and results."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.codes: dict[str, str] = {}
        self._serial = 0
        session.add(Region(code="42", name="Кемеровская область", timezone="Asia/Novokuznetsk"))
        session.flush()  # no relationship orders the region first
        mouo = Mouo(code="42-05", region_code="42", name="МОУО города Примерска")
        school = School(code="4205001", mouo=mouo, name="Школа № 1 города Примерска")
        campaign = Campaign(
            code="test-2017", procedure="ИС-11", school_year="2017/18", region_code="42", title="т"
        )
        self.exams = [
            ExamSession(campaign=campaign, code=day.isoformat(), ordinal=n, exam_date=day)
            for n, day in enumerate(DAYS, start=1)
        ]
        session.add_all([mouo, school, campaign, *self.exams])
        session.flush()
        self.mouo, self.school = mouo, school
        for exam in self.exams:  # the results lists went out: the results are issued
            self.issue(exam)

    def issue(self, exam: ExamSession) -> None:
        self.session.add(
            Acknowledgement(
                session_id=exam.id,
                party="42-05",
                document="results",
                token_sha256=f"{exam.id:064d}",
                content_sha256="0" * 64,
                sent_at=NOW,
            )
        )
        self.session.flush()

    def withdraw(self, exam: int) -> None:
        """As if the session's lists had not gone out yet."""
        self.session.execute(
            delete(Acknowledgement).where(Acknowledgement.session_id == self.exams[exam].id)
        )
        self.session.flush()

    def person(
        self,
        surname: str,
        name: str,
        patronymic: str | None,
        series: str,
        number: str,
        kind: str = "passport_rf",
    ) -> Participant:
        person = Participant(
            surname=surname,
            name=name,
            patronymic=patronymic,
            sex="Ж",
            birth_date=date(2000, 5, 17),
            document_type=kind,
            document_series=series,
            document_number=number,
            category="graduate",
            mouo_id=self.mouo.id,
            school_id=self.school.id,
        )
        self.session.add(person)
        self.session.flush()
        return person

    def result(
        self,
        person: Participant,
        exam: int,
        outcome: str,
        *,
        label: str,
        verified: bool = True,
        annulled: bool = False,
        form: str = "essay",
    ) -> str:
        """A registration, kit and result of `person` in session `exam` (0-2); its code."""
        exam_session = self.exams[exam]
        registration = Registration(
            participant_id=person.id,
            session_id=exam_session.id,
            school_id=self.school.id,
            form=form,
        )
        self.session.add(registration)
        self.session.flush()
        self._serial += 1
        code = make_work_code("42", 2017, exam_session.ordinal, self._serial)
        work = Work(
            work_code=code,
            session_id=exam_session.id,
            registration_id=registration.id,
            school_id=self.school.id,
        )
        self.session.add(work)
        self.session.flush()
        self.session.add(
            Result(
                registration_id=registration.id,
                passed=outcome == "passed",
                outcome=outcome,
                work_id=work.id,
                verified_at=NOW if verified else None,
                annulled=annulled,
            )
        )
        self.session.flush()
        self.codes[label] = code
        return code


@pytest.fixture
def world(database: Database) -> Iterator[World]:
    with database.session_factory() as session:
        world = World(session)
        ivanov = world.person("Иванов", "Иван", "Петрович", "3200", "654321")
        world.result(ivanov, 0, "failed", label="ivanov-dec")
        world.result(ivanov, 1, "passed", label="ivanov-feb")
        world.result(ivanov, 2, "passed", label="ivanov-may-unverified", verified=False)
        namesake = world.person("Иванов", "Игорь", None, "3202", "111222")
        world.result(namesake, 0, "passed", label="namesake")
        yolkina = world.person("Ёлкина", "Анна", "Олеговна", "3201", "123456")
        world.result(yolkina, 0, "passed", label="yolkina", form="exposition")
        annulled = world.person("Смирнова", "Вера", "Ильинична", "3203", "777888")
        world.result(annulled, 0, "passed", label="annulled", annulled=True)
        session.commit()
        yield world
        session.rollback()


def found(world: World, surname: str = "", document: str = "", code: str = "") -> list[str]:
    return [
        f"{a.exam_date}:{a.form}:{a.outcome}:{a.initials}"
        for a in find_results(world.session, surname, document, code)
    ]


# --- surname and document ----------------------------------------------------------------------


def test_surname_and_document_find_every_verified_result_of_that_participant_by_date(
    world: World,
) -> None:
    assert found(world, "Иванов", "3200654321") == [
        "2017-12-06:essay:failed:И. П.",
        "2018-02-07:essay:passed:И. П.",
    ]


def test_the_answer_names_the_form_and_the_result_in_russian_and_initials_only(
    world: World,
) -> None:
    [answer] = find_results(world.session, "Ёлкина", "3201123456", "")
    assert answer == LookupAnswer(date(2017, 12, 6), "exposition", "passed", "А. О.")
    assert (answer.form_ru, answer.outcome_ru) == ("изложение", "зачет")


@pytest.mark.parametrize("surname", ["иванов", "ИВАНОВ", "  Иванов  ", "иВаНоВ"])
def test_the_surname_is_compared_without_case_and_surrounding_spaces(
    world: World, surname: str
) -> None:
    assert len(found(world, surname, "3200654321")) == 2


@pytest.mark.parametrize("surname", ["Елкина", "ёлкина", "ЕЛКИНА"])
def test_yo_and_ye_are_the_same_letter_in_the_surname(world: World, surname: str) -> None:
    assert found(world, surname, "3201123456") == ["2017-12-06:exposition:passed:А. О."]


@pytest.mark.parametrize("document", ["3200 654321", " 32 00 654 321 ", "3200\t654321"])
def test_spaces_in_the_document_are_ignored(world: World, document: str) -> None:
    assert len(found(world, "Иванов", document)) == 2


@pytest.mark.parametrize(
    ("surname", "document"),
    [
        ("Иванов", "3200654320"),  # one digit wrong
        ("Иванов", "654321"),  # the number without the series
        ("Иванов", "32006543210"),  # one digit more
        ("Иванов", "3201123456"),  # Ёлкина's document with my surname
        ("Иванов", "3203777888"),  # another person's document
        ("Иванова", "3200654321"),  # a different surname
        ("Иван", "3200654321"),  # a partial surname
        ("Ивановы", "3200654321"),
        ("Ив-анов", "3200654321"),
        ("Иванов Иван", "3200654321"),  # the surname with the name
        ("Иван%", "3200654321"),  # wildcards are characters, never patterns
        ("Иван_в", "3200654321"),
        ("%", "3200654321"),
        ("*", "3200654321"),
        ("Иванов", "3200%"),
        ("Иванов", "%"),
        ("Иванов", "3200_54321"),
        ("Иванов", "3200*"),
        ("", "3200654321"),  # an empty field
        ("Иванов", ""),
        ("   ", "3200654321"),
        ("Иванов", "   "),
    ],
)
def test_anything_but_an_exact_surname_and_document_of_one_person_finds_nothing(
    world: World, surname: str, document: str
) -> None:
    assert found(world, surname, document) == []


def test_a_namesake_finds_only_his_own_results(world: World) -> None:
    assert found(world, "Иванов", "3202111222") == ["2017-12-06:essay:passed:И."]


def test_annulled_and_unverified_results_are_hidden(world: World) -> None:
    assert found(world, "Смирнова", "3203777888") == []
    assert "2018-05-16" not in " ".join(found(world, "Иванов", "3200654321"))


def test_results_of_a_session_whose_lists_have_not_gone_out_are_hidden(world: World) -> None:
    before = found(world, "Иванов", "3200654321")
    feb = world.codes["ivanov-feb"]
    assert found(world, code=feb)
    world.withdraw(1)  # the February session's lists are not issued yet
    after = found(world, "Иванов", "3200654321")
    assert len(after) == len(before) - 1
    assert not any(a.startswith("2018-02-07") for a in after)
    assert found(world, code=feb) == []


def test_a_document_two_people_share_finds_nobody(world: World) -> None:
    twin = world.person("Иванов", "Илья", None, "3200", "654321", kind="other")
    world.result(twin, 0, "passed", label="twin")
    assert found(world, "Иванов", "3200654321") == []


def test_an_overlong_value_finds_nothing(world: World) -> None:
    assert found(world, "Иванов" * 40, "3200654321") == []
    assert found(world, "Иванов", "3200654321" * 20) == []


# --- work code ---------------------------------------------------------------------------------


def test_a_work_code_finds_that_works_result_without_a_name(world: World) -> None:
    assert found(world, code=world.codes["ivanov-feb"]) == ["2018-02-07:essay:passed:None"]
    assert found(world, code=f"  {world.codes['yolkina']} ") == [
        "2017-12-06:exposition:passed:None"
    ]


def test_a_work_code_must_be_exactly_twelve_digits_with_a_right_check_digit(world: World) -> None:
    code = world.codes["ivanov-feb"]
    wrong_check = code[:-1] + str((int(code[-1]) + 1) % 10)
    for attempt in (
        code[:-1],
        code + "0",
        wrong_check,
        f"{code[:6]} {code[6:]}",
        code[:6] + "%",
        code[:11] + "_",
        "*",
        "",
        "４２" + code[2:],  # full-width digits are not digits here
    ):
        assert found(world, code=attempt) == [], attempt


def test_codes_of_unverified_or_annulled_results_find_nothing(world: World) -> None:
    assert found(world, code=world.codes["ivanov-may-unverified"]) == []
    assert found(world, code=world.codes["annulled"]) == []


def test_a_code_together_with_a_surname_or_document_finds_nothing(world: World) -> None:
    code = world.codes["ivanov-feb"]
    assert found(world, "Иванов", "", code) == []
    assert found(world, "", "3200654321", code) == []
    assert found(world, "Иванов", "3200654321", code) == []


# --- rate limit --------------------------------------------------------------------------------


def attempts(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(LookupAttempt)) or 0


def test_the_query_after_the_limit_is_refused_and_not_recorded(world: World) -> None:
    session = world.session
    assert [allow(session, "a" * 64, NOW, 3, WINDOW) for _ in range(3)] == [True] * 3
    assert allow(session, "a" * 64, NOW + timedelta(minutes=1), 3, WINDOW) is False
    assert attempts(session) == 3
    assert allow(session, "b" * 64, NOW, 3, WINDOW) is True  # another client is not limited


def test_a_new_window_allows_queries_again(world: World) -> None:
    session = world.session
    for minute in range(3):
        assert allow(session, "a" * 64, NOW + timedelta(minutes=minute), 3, WINDOW)
    assert not allow(session, "a" * 64, NOW + timedelta(minutes=9), 3, WINDOW)
    # Sliding: the first attempt leaves the window after ten minutes, the others later.
    assert allow(session, "a" * 64, NOW + timedelta(minutes=10), 3, WINDOW)
    assert not allow(session, "a" * 64, NOW + timedelta(minutes=10, seconds=30), 3, WINDOW)
    assert allow(session, "a" * 64, NOW + timedelta(minutes=30), 3, WINDOW)


def test_past_the_global_ceiling_every_client_gets_fewer_queries_but_none_is_locked_out(
    world: World,
) -> None:
    session = world.session
    for n in range(5):
        assert allow(session, f"{n:064d}", NOW, DEGRADED_LIMIT + 2, WINDOW, global_limit=5)
    newcomer = [
        allow(session, "f" * 64, NOW, DEGRADED_LIMIT + 2, WINDOW, global_limit=5)
        for _ in range(DEGRADED_LIMIT + 1)
    ]
    assert newcomer == [True] * DEGRADED_LIMIT + [False]
    assert allow(session, "f" * 64, NOW + WINDOW, DEGRADED_LIMIT + 2, WINDOW, global_limit=5)


def test_the_addresses_of_one_network_share_its_limit(world: World) -> None:
    session = world.session
    secret = b"k" * 32
    for host in range(1, 4):
        key = client_key(secret, f"2001:db8:0:1::{host}")
        assert [allow(session, key, NOW, 2, WINDOW, network_limit=5) for _ in range(2)] == [
            True,
            (host < 3),
        ]
    assert not allow(
        session, client_key(secret, "2001:db8:0:1::99"), NOW, 2, WINDOW, network_limit=5
    )
    assert allow(session, client_key(secret, "2001:db8:0:2::1"), NOW, 2, WINDOW, network_limit=5)


def test_a_flood_network_limit_applies_only_past_the_global_ceiling(world: World) -> None:
    """A carrier's /24: many addresses, two queries each, far more than the network's flood
    limit in all, and none refused while the global ceiling is not crossed; once it is, the
    network's limit applies (and every client's shrinks)."""
    session = world.session
    secret = b"k" * 32

    def ask(address: str) -> bool:
        key = client_key(secret, address)
        return allow(session, key, NOW, 5, WINDOW, flood_network_limit=4, global_limit=30)

    assert [ask(f"203.0.113.{host}") for host in range(1, 11) for _ in range(2)] == [True] * 20
    for n in range(10):  # others elsewhere cross the global ceiling (30)
        assert ask(f"198.51.{n}.1")
    assert not ask("203.0.113.50")  # the /24 has 20 ≥ 4 in the window: refused in the flood
    assert ask("203.0.114.1")  # another /24, a new client: its three queries
    assert ask("203.0.114.1")
    assert ask("203.0.114.1")
    assert not ask("203.0.114.1")  # DEGRADED_LIMIT


def test_a_networks_count_is_a_range_of_the_client_key_index(world: World) -> None:
    """No migration: a network's attempts are the keys between its half and its half + «g»,
    which the existing index on client_key serves (substr(...) = ... could not)."""
    session = world.session
    statements: list[tuple[str, Any]] = []
    engine = session.get_bind()

    def seen(conn: object, cursor: object, statement: str, parameters: Any, *_: object) -> None:
        statements.append((statement, parameters))

    key = client_key(b"k" * 32, "2001:db8::1")
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert allow(session, key, NOW, 3, WINDOW, network_limit=9)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    [(network_count, parameters)] = [
        (sql, params) for sql, params in statements if "client_key >=" in sql
    ]
    assert "substr" not in network_count.lower()
    connection = session.connection()
    if engine.dialect.name == "sqlite":
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {network_count}", parameters)
        steps = " ".join(str(row[-1]) for row in plan)
        assert "ix_lookup_attempt_client_key (client_key>? AND client_key<?)" in steps, steps
    else:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = connection.exec_driver_sql(f"EXPLAIN {network_count}", parameters)
        steps = " ".join(str(row[0]) for row in plan)
        assert "ix_lookup_attempt_client_key" in steps, steps


def test_old_attempts_are_swept_now_and_then(world: World) -> None:
    session = world.session
    session.add_all(
        LookupAttempt(client_key="old", at=NOW - timedelta(hours=h + 1)) for h in range(5)
    )
    session.flush()
    for n in range(PRUNE_EVERY):
        assert allow(session, f"{n:064d}", NOW, 3, WINDOW)
    old = session.scalar(
        select(func.count()).select_from(LookupAttempt).where(LookupAttempt.client_key == "old")
    )
    assert old == 0
    assert attempts(session) == PRUNE_EVERY


# --- the clients' key --------------------------------------------------------------------------


def test_the_lookup_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = Settings(out_dir=tmp_path)
    key = lookup_key(settings)
    assert len(key) == 32
    assert lookup_key(settings) == key
    assert stat.S_IMODE(lookup_key_path(settings).stat().st_mode) == 0o600
    assert [p.name for p in lookup_key_path(settings).parent.iterdir()] == ["lookup.key"]


def test_the_lookup_secret_setting_wins_and_no_file_is_written(tmp_path: Path) -> None:
    settings = Settings(out_dir=tmp_path, lookup_secret=SecretStr("секрет-региона"))
    assert lookup_key(settings) == "секрет-региона".encode()
    assert not lookup_key_path(settings).exists()


def test_a_client_is_kept_as_a_keyed_hash_of_its_address() -> None:
    first = client_key(b"k" * 32, "203.0.113.7")
    assert len(first) == 64
    assert "203.0.113.7" not in first
    assert client_key(b"k" * 32, "203.0.113.7") == first
    assert client_key(b"other" * 8, "203.0.113.7") != first
    assert client_key(b"k" * 32, "203.0.113.8") != first


@pytest.mark.parametrize(
    ("one", "other", "same_subnet"),
    [
        ("203.0.113.7", "203.0.113.200", True),
        ("203.0.113.7", "203.0.114.7", False),
        ("203.0.113.7", "::ffff:203.0.113.8", True),
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", True),
        ("2001:db8:1:2::1", "2001:db8:1:3::1", False),
        ("testclient", "testclient2", False),
    ],
)
def test_a_client_key_begins_with_its_subnets_keyed_hash(
    one: str, other: str, same_subnet: bool
) -> None:
    first, second = client_key(b"k" * 32, one), client_key(b"k" * 32, other)
    assert first != second
    assert (first[:32] == second[:32]) is same_subnet
