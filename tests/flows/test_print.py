"""The print flow on a generated region: the gate, one kit per participant, idempotent re-prints."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from sqlalchemy import select, update

from config.settings import Settings
from flows.campaign import campaign
from flows.print_kits import print_kits
from tasks.adapters.database import bootstrap
from tasks.adapters.models import (
    AuditLog,
    Discrepancy,
    Participant,
    Registration,
    School,
    StageCompletion,
    Work,
)
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.domain.identifiers import is_valid_work_code
from tasks.errors import PrintBlocked
from tasks.print_kits import check_print_gate
from tests.conftest import postgres_database

pytestmark = pytest.mark.flows
SESSION = "2017-12-06"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The regional database of the run: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rcoi.sqlite'}"
        monkeypatch.setenv("RCOI_DATABASE_URL", url)
        yield url
    else:
        for url in postgres_database():
            monkeypatch.setenv("RCOI_DATABASE_URL", url)
            yield url


def _folder(out: Path) -> Path:
    return out / "print" / SESSION


def _manifest(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((_folder(out) / "manifest.json").read_text(encoding="utf-8"))


def _hashes(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(_folder(out).rglob("*.pdf"))
    }


def test_the_campaign_prints_one_kit_per_participant_and_a_rerun_changes_nothing(
    tmp_path: Path, backend: str
) -> None:
    document = campaign(
        participants=300, seed=21, out=str(tmp_path), silent_mouos=1, registry_errors=2
    )
    printed = {e["stage"]: e for e in document["stages"]}["print"]["counts"]
    assert printed["accepted_by_demo"] == 3  # the silent МОУО and two cross-МОУО cases
    database = bootstrap(Settings(out_dir=tmp_path))
    with UnitOfWork(database.session_factory) as uow:
        registered = set(
            uow.session.scalars(select(Registration.id).where(Registration.status == "registered"))
        )
        works = uow.session.execute(
            select(Work.work_code, Work.kind, Work.registration_id, Work.school_id, Work.room_id)
        ).all()
        unseated = uow.session.scalars(
            select(Registration.id).where(Registration.room_id.is_(None))
        ).all()
        decisions = uow.session.scalars(
            select(AuditLog.actor).where(AuditLog.action == "discrepancy.accepted")
        ).all()
        completion = uow.session.scalars(select(StageCompletion.details)).all()
    kits = [w for w in works if w.kind == "kit"]
    assert sorted(w.registration_id for w in kits) == sorted(registered)
    assert printed["kits"] == len(registered)
    codes = [w.work_code for w in works]
    assert len(codes) == len(set(codes))
    assert all(is_valid_work_code(c) and c.startswith("42171") for c in codes)
    assert unseated == []
    assert all(w.room_id is not None for w in works if w.kind != "reserve")
    schools = {w.school_id for w in kits}
    assert Counter(w.kind for w in works)["reserve"] == 2 * len(schools)
    assert set(decisions) == {"демо-координатор (симуляция)"}
    assert {"kits": len(registered), "pages": printed["pages"]} in completion

    manifest = _manifest(tmp_path)
    assert manifest["counts"]["kits"] == len(registered)
    assert {w["work_code"] for w in manifest["works"]} | {
        a["code"] for a in manifest["additional"]
    } == set(codes)
    for entry in manifest["files"]:
        pdf = pdfium.PdfDocument(_folder(tmp_path) / entry["path"])
        assert len(pdf) == entry["page_count"] == len(entry["pages"])
        first = pdf[0].get_textpage().get_text_range()
        pdf.close()
        assert "БЛАНК РЕГИСТРАЦИИ" in first
        assert entry["pages"][0]["code"] in first.replace(" ", "")
        assert (_folder(tmp_path) / entry["forms_path"]).is_file()
    assert sorted(p.name for p in (_folder(tmp_path) / "layouts").iterdir()) == [
        "additional-1.json",
        "additional-2.json",
        "answer-1.json",
        "answer-2.json",
        "registration-1.json",
    ]
    before = _hashes(tmp_path)

    again = print_kits(out=str(tmp_path), session=SESSION)
    assert again["codes_issued"] == 0
    assert again["schools_rebuilt"] == 0
    assert again["seated"] == 0
    assert _hashes(tmp_path) == before
    with UnitOfWork(database.session_factory) as uow:
        assert len(uow.session.scalars(select(Work.id)).all()) == len(works)
    database.dispose()


def test_printing_is_refused_while_a_critical_discrepancy_is_open(tmp_path: Path) -> None:
    campaign(participants=200, seed=4, out=str(tmp_path))
    database = bootstrap(Settings(out_dir=tmp_path))
    with UnitOfWork(database.session_factory) as uow:
        uow.session.add(
            Discrepancy(
                session_id=1,
                key="test:open",
                kind="duplicate_snils",
                severity="critical",
                message="проверка запрета печати",
                status="open",
            )
        )
        works_before = len(uow.session.scalars(select(Work.id)).all())
        uow.commit()
    before = _hashes(tmp_path)
    state = print_kits(out=str(tmp_path), session=SESSION, return_state=True)
    # the run waits for the coordinator: «Ожидание» (Completed) with the reason, never Failed
    assert (state.type.value, state.name) == ("COMPLETED", "Ожидание")
    assert "открытых критических расхождений выверки — 1" in (state.message or "")
    assert state.result() == {"status": "waiting", "reason": state.message}
    with pytest.raises(PrintBlocked, match="открытых критических расхождений выверки — 1"):
        check_print_gate(Settings(out_dir=tmp_path), "kemerovo-2017-essay", SESSION)
    with UnitOfWork(database.session_factory) as uow:
        assert len(uow.session.scalars(select(Work.id)).all()) == works_before
    database.dispose()
    assert _hashes(tmp_path) == before


def test_a_late_registration_gets_one_new_code_and_only_its_school_is_reprinted(
    tmp_path: Path,
) -> None:
    campaign(participants=200, seed=8, out=str(tmp_path))
    before = _hashes(tmp_path)
    database = bootstrap(Settings(out_dir=tmp_path))
    with UnitOfWork(database.session_factory) as uow:
        school = uow.session.scalars(select(School).order_by(School.code)).first()
        assert school is not None
        person = Participant(
            snils="11223344595",
            surname="Поздняя",
            name="Вера",
            sex="Ж",
            birth_date=date(2000, 5, 5),
            document_type="passport_rf",
            document_series="3205",
            document_number="555555",
            category="student",
            mouo_id=school.mouo_id,
            school_id=school.id,
        )
        uow.session.add(person)
        uow.session.flush()
        uow.session.add(Registration(participant_id=person.id, session_id=1, school_id=school.id))
        school_code = school.code
        uow.commit()
    again = print_kits(out=str(tmp_path), session=SESSION)
    assert again["seated"] == 1
    assert again["schools_rebuilt"] == 1
    assert again["codes_issued"] >= 1  # the kit, and an additional blank if the room grew
    after = _hashes(tmp_path)
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {
        f"print/{SESSION}/{school_code}/Комплекты_{school_code}.pdf",
        f"print/{SESSION}/{school_code}/Формы_{school_code}.pdf",
    }
    manifest = _manifest(tmp_path)
    assert manifest["counts"]["kits"] == again["kits"]
    database.dispose()


def test_a_run_killed_after_some_schools_rebuilds_only_the_missing_ones(tmp_path: Path) -> None:
    campaign(participants=200, seed=6, out=str(tmp_path))
    before = _hashes(tmp_path)
    victim = next(iter(sorted(before)))
    (tmp_path / victim).unlink()
    # what a killed writer leaves: a partial file under a temporary name only
    (tmp_path / victim).with_name(f".{Path(victim).name}.part").write_bytes(b"%PDF-1.4 partial")
    again = print_kits(out=str(tmp_path), session=SESSION)
    assert again["schools_rebuilt"] == 1
    assert again["codes_issued"] == 0
    assert _hashes(tmp_path) == before  # the rebuilt file is byte-identical


def test_a_damaged_pdf_is_rebuilt_although_its_pages_did_not_change(tmp_path: Path) -> None:
    campaign(participants=150, seed=12, out=str(tmp_path))
    before = _hashes(tmp_path)
    victim = tmp_path / next(name for name in sorted(before) if "Комплекты_" in name)
    victim.write_bytes(victim.read_bytes()[:-100])  # truncated, e.g. by a full disk
    again = print_kits(out=str(tmp_path), session=SESSION)
    assert again["schools_rebuilt"] == 1
    assert _hashes(tmp_path) == before


def test_withdrawn_registrations_get_no_new_kit(tmp_path: Path) -> None:
    campaign(participants=200, seed=10, out=str(tmp_path))
    database = bootstrap(Settings(out_dir=tmp_path))
    with UnitOfWork(database.session_factory) as uow:
        first = uow.session.scalars(select(Registration.id).order_by(Registration.id)).first()
        uow.session.execute(
            update(Registration).where(Registration.id == first).values(status="withdrawn")
        )
        uow.commit()
    kits_before = _manifest(tmp_path)["counts"]["kits"]
    again = print_kits(out=str(tmp_path), session=SESSION)
    assert again["codes_issued"] == 0
    assert again["kits_withdrawn"] == 1  # its code stays issued, its kit is not printed
    assert again["kits"] == _manifest(tmp_path)["counts"]["kits"] == kits_before - 1
    database.dispose()
