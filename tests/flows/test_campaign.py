"""The campaign flow end to end on an ephemeral Prefect server."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import create_engine, func, select

from flows.campaign import campaign
from flows.grade import grade
from flows.inform import inform
from flows.scan import run_scan
from flows.upload import upload
from tasks.adapters.models import (
    Discrepancy,
    Notification,
    Page,
    Participant,
    PlanStage,
    RecognitionResult,
    Registration,
    Submission,
    SubmissionRow,
    VerificationItem,
)
from tasks.domain.summary import STAGE_TITLES_RU

pytestmark = pytest.mark.flows


def _count(out: Path, model: type, *where: Any) -> int:
    engine = create_engine(f"sqlite:///{out / 'rcoi.sqlite'}")
    with engine.connect() as connection:
        query = select(func.count()).select_from(model).where(*where)
        value = connection.execute(query).scalar_one()
    engine.dispose()
    return int(value)


def test_the_campaign_writes_a_summary_entry_for_every_stage(tmp_path: Path) -> None:
    document = campaign(participants=400, seed=5, out=str(tmp_path))
    written = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert written == document
    stages = {entry["stage"]: entry for entry in written["stages"]}
    assert list(stages) == list(STAGE_TITLES_RU)
    assert stages["generate_region"]["status"] == "completed"
    assert stages["generate_region"]["counts"]["participants"] == 400
    assert stages["load_region"]["counts"]["schools"]["inserted"] > 0
    assert stages["plan"]["counts"]["plan_stages"]["offered"] == 36
    assert stages["collect"]["status"] == "completed"
    assert stages["collect"]["counts"]["rows_read"] == 400
    assert stages["collect"]["counts"]["rows_rejected"] == 0
    assert stages["reconcile"]["status"] == "completed"
    assert stages["reconcile"]["counts"]["participants"] == 400
    assert stages["reconcile"]["counts"]["print_gate"] == "open"
    assert stages["watchdog"]["status"] == "completed"
    assert stages["watchdog"]["counts"]["notified"] == []  # everybody submitted in time
    assert stages["print"]["status"] == "completed"
    assert stages["print"]["counts"]["kits"] == 400
    assert stages["print"]["counts"]["accepted_by_demo"] == 0  # nothing was left open
    assert stages["publish"]["status"] == "completed"
    published = stages["publish"]["counts"]
    assert published["published_at"] == "2017-12-06T09:45:00+07:00"  # waited from 09:44
    assert published["lateness_s"] == 0.0
    assert published["topics"] == 7
    assert published["mails_sent"] == stages["load_region"]["counts"]["mouos"]["offered"]
    assert written["campaign"]["session"] == "2017-12-06"
    assert "Сводка кампании" in (tmp_path / "summary.md").read_text(encoding="utf-8")


def test_the_demo_campaign_prints_publishes_at_0945_simulates_the_exam_day_and_scans_it(
    tmp_path: Path,
) -> None:
    document = campaign(participants=120, seed=17, out=str(tmp_path), simulate=True)
    stages = {entry["stage"]: entry for entry in document["stages"]}
    printed, published, day = (stages[s]["counts"] for s in ("print", "publish", "exam_day"))
    assert stages["exam_day"]["status"] == "completed"
    assert printed["kits"] == 120
    assert published["published_at"].startswith("2017-12-06T09:45:00")
    truth = json.loads(
        (tmp_path / "exam_day" / "2017-12-06" / "ground_truth.json").read_text(encoding="utf-8")
    )
    assert (
        day["present"] + day["absent"]
        == printed["kits"]
        == len([w for w in truth["works"] if w["kind"] == "kit"])
    )
    # every printed page is either an image the schools sent back or listed as missing
    manifest = json.loads(
        (tmp_path / "print" / "2017-12-06" / "manifest.json").read_text(encoding="utf-8")
    )
    assert sum(f["page_count"] for f in manifest["files"]) == printed["pages"]
    assert len(truth["pages"]) == printed["pages"]
    assert day["pages_issued"] == printed["pages"]
    assert (
        day["pages_scanned"] + day["pages_missing"] + day["pages_not_scanned"] == printed["pages"]
    )
    scans = list((tmp_path / "exam_day" / "2017-12-06" / "scans").rglob("*.*"))
    assert len(scans) == day["files"]
    codes = {w["work_code"] for w in manifest["works"]}
    assert not [p.name for p in scans if any(code in p.name for code in codes)]
    # the scan stage read every image back: one record per image, none given to a wrong work,
    # and the regional database holds each page once with its readings
    scanned = stages["scan"]["counts"]
    assert stages["scan"]["status"] == "completed"
    assert scanned["pages"] == len(truth["images"]) == _count(tmp_path, Page)
    assert sum(scanned["statuses"].values()) == scanned["pages"]
    accuracy = scanned["accuracy"]
    assert accuracy["pages"]["misattributed"] == 0
    assert accuracy["missing_records"] == 0
    assert accuracy["marks"]["right_share"] >= 0.999
    assert accuracy["digit_fields"]["right_share"] >= 0.99
    assert _count(tmp_path, RecognitionResult) > scanned["pages"]
    opened = _count(tmp_path, VerificationItem, VerificationItem.kind == "scan")
    assert opened == scanned["stored"]["verification_opened"] > 0
    # scanning again takes every file from the work folder and changes nothing
    again = run_scan(
        folder=str(tmp_path / "exam_day" / "2017-12-06" / "scans"),
        out=str(tmp_path),
        plan="kemerovo-2017-essay",
        session="2017-12-06",
    )
    assert again["files_from_cache"] == again["files"] == scanned["files"]
    assert again["statuses"] == scanned["statuses"]
    assert again["stored"]["verification_opened"] == 0
    assert _count(tmp_path, Page) == scanned["pages"]
    assert _count(tmp_path, VerificationItem, VerificationItem.kind == "scan") == opened
    _copied_graded_and_verified_as_the_simulator_decided(tmp_path, stages, truth)
    _uploaded_and_informed(tmp_path, stages, truth)


def _copied_graded_and_verified_as_the_simulator_decided(
    out: Path, stages: dict[str, Any], truth: dict[str, Any]
) -> None:
    """Every kit ends with a verified result or an explained status, each the one the
    simulator decided; flagged works are neither copied nor graded; the queue is empty."""
    copied, graded, verified = (stages[s]["counts"] for s in ("copy", "grade", "verify"))
    assert [stages[s]["status"] for s in ("copy", "grade", "verify")] == ["completed"] * 3
    kits = [w for w in truth["works"] if w["kind"] == "kit"]
    written = [
        w
        for w in kits
        if w["attendance"] == "present"
        and not (w["flags"]["not_finished"] or w["flags"]["removed"])
    ]
    assert copied["register"]["copy"] == len(written) == copied["assignment"]["assigned"]
    assert copied["packages"]["works"] == len(written)
    packages = list((out / "copy" / "2017-12-06" / "packages").rglob("*.pdf"))
    assert len(packages) == copied["packages"]["packages"] > 0
    assert graded["graded"] == graded["to_grade"] == len(written)
    # every transcription error the simulator made is found, and nothing else
    accuracy = graded["accuracy"]
    assert accuracy["found"] == accuracy["transcription_errors"]
    assert accuracy["false_findings"] == 0
    assert verified["wait"]["open"] == 0
    assert verified["results"]["works"] == len(kits)
    rows = (out / "verify" / "2017-12-06" / "results.csv").read_text("utf-8-sig").splitlines()
    results = {r.split(";")[0]: r.split(";", 3) for r in rows[1:]}
    assert set(results) == {w["work_code"] for w in kits}
    for work in kits:
        _, _, outcome, marks = results[work["work_code"]]
        if work["attendance"] != "present":
            assert outcome == "не явился"
        elif work["flags"]["not_finished"] or work["flags"]["removed"]:
            assert outcome.startswith(("не закончил", "удален")), work["work_code"]
        else:
            assert outcome == work["expert_marks"]["overall"], work["work_code"]
            assert json.loads(marks.replace('""', '"').strip('"')) == work["expert_marks"]
    # grading again changes nothing and opens no item
    again = grade(out=str(out), plan="kemerovo-2017-essay", session="2017-12-06")
    assert again["verification_opened"] == 0


def test_running_the_campaign_twice_duplicates_nothing(tmp_path: Path) -> None:
    first = campaign(participants=300, seed=9, out=str(tmp_path))
    second = campaign(participants=300, seed=9, out=str(tmp_path))
    stages = {entry["stage"]: entry for entry in second["stages"]}
    submitted = {e["stage"]: e for e in first["stages"]}["collect"]["counts"]["mouos_submitted"]
    assert submitted  # every МОУО, known from the database even when no file is new
    assert stages["collect"]["counts"]["mouos_submitted"] == submitted
    assert all(c["inserted"] == 0 for c in stages["load_region"]["counts"].values())
    assert stages["plan"]["counts"]["plan_stages"]["inserted"] == 0
    assert stages["collect"]["counts"]["files_skipped"] == stages["collect"]["counts"]["files"]
    assert _count(tmp_path, Submission) == stages["collect"]["counts"]["files"]
    assert _count(tmp_path, SubmissionRow) == 300
    assert _count(tmp_path, PlanStage) == 36
    assert stages["reconcile"]["counts"]["loaded"]["participants"]["inserted"] == 0
    assert stages["reconcile"]["counts"]["loaded"]["registrations"]["inserted"] == 0
    assert stages["reconcile"]["counts"]["discrepancies"]["opened"] == 0
    assert stages["reconcile"]["counts"]["mails_sent"] == 0
    assert sum(stages["watchdog"]["counts"]["sent"].values()) == 0
    assert _count(tmp_path, Participant) == _count(tmp_path, Registration) == 300
    mouos = stages["load_region"]["counts"]["mouos"]["offered"]
    outbox = list((tmp_path / "outbox").glob("*.eml"))
    # collect reports, reconcile reports and the topics (once, at the first run)
    assert len(outbox) == stages["collect"]["counts"]["files"] + 2 * mouos
    assert stages["publish"]["counts"]["status"] == "already_published"
    assert stages["publish"]["counts"]["mails_sent"] == 0


def test_collect_rejects_exactly_the_injected_errors(tmp_path: Path) -> None:
    document = campaign(
        participants=1500, seed=11, out=str(tmp_path), error_rate=0.04, silent_mouos=1
    )
    collected = {e["stage"]: e for e in document["stages"]}["collect"]["counts"]
    truth = pl.read_csv(tmp_path / "region" / "injected_errors.csv")
    assert collected["rows_rejected"] == truth.height > 0
    expected = {
        "invalid_snils": "snils_valid",
        "latin_lookalike": "surname_cyrillic",
        "future_birth_date": "birth_date_plausible",
        "absurd_birth_date": "birth_date_plausible",
        "missing_name": "name_present",
        "bad_passport": "document_valid",
        "exposition_not_eligible": "exposition_eligible",
        "foreign_school_code": "school_of_this_mouo",
        "unknown_category": "category_known",
        "duplicate_row": "not_a_repeat",
    }
    for error in truth["error"].unique():
        assert expected[error] in collected["rejected_by_rule"]


def test_the_campaign_runs_another_plan_and_session(tmp_path: Path) -> None:
    document = campaign(participants=200, seed=1, out=str(tmp_path), plan="tomsk-2024-interview")
    assert document["campaign"]["region"] == "70"
    assert document["campaign"]["session"] == "2024-02-14"


def test_the_summary_holds_no_personal_data(tmp_path: Path) -> None:
    campaign(participants=200, seed=2, out=str(tmp_path))
    truth = (tmp_path / "region" / "participants.csv").read_text(encoding="utf-8").splitlines()
    snils = [line.split(",")[1] for line in truth[1:]]
    text = (tmp_path / "summary.json").read_text(encoding="utf-8") + (
        tmp_path / "summary.md"
    ).read_text(encoding="utf-8")
    assert not [value for value in snils if value in text]


def test_reconcile_finds_exactly_the_injected_cross_mouo_cases_and_the_silent_mouo(
    tmp_path: Path,
) -> None:
    document = campaign(
        participants=2500,
        seed=13,
        out=str(tmp_path),
        error_rate=0.02,
        silent_mouos=1,
        registry_errors=6,
    )
    stages = {e["stage"]: e for e in document["stages"]}
    reconciled = stages["reconcile"]["counts"]
    truth = pl.read_csv(tmp_path / "region" / "injected_registry_errors.csv", infer_schema=False)
    errors = pl.read_csv(tmp_path / "region" / "injected_errors.csv", infer_schema=False)
    silent = document["campaign"]["silent_mouos"]
    assert truth.height == 6
    expected = dict(truth.group_by("kind").len().iter_rows()) | {"no_submission": silent}
    assert reconciled["by_kind"] == expected
    assert reconciled["print_gate"] == "blocked"
    assert reconciled["open"]["critical"] == truth.height + silent
    # the participants: every accepted row but the second copy of each duplicated person
    duplicates = truth.filter(pl.col("kind") != "conflicting_snils").height
    conflicts = truth.filter(pl.col("kind") == "conflicting_snils").height
    accepted = stages["collect"]["counts"]["rows_accepted"]
    assert reconciled["participants"] == accepted - duplicates - conflicts
    assert stages["collect"]["counts"]["rows_rejected"] == errors.height
    # each discrepancy points at the injected row in the МОУО's own numbering
    engine = create_engine(f"sqlite:///{tmp_path / 'rcoi.sqlite'}")
    with engine.connect() as connection:
        stored = connection.execute(select(Discrepancy.kind, Discrepancy.rows)).all()
    engine.dispose()
    for case in truth.iter_rows(named=True):
        where = f"МОУО {case['mouo_code']} стр. {case['row_number']}"
        assert any(kind == case["kind"] and where in rows for kind, rows in stored), where


def test_the_silent_mouo_gets_a_reminder_then_an_alert_and_the_rerun_sends_nothing(
    tmp_path: Path,
) -> None:
    from flows.watchdog import demo_instants, watchdog
    from tasks.adapters.plan_files import load_plan, resolve_plan_path

    document = campaign(participants=1500, seed=21, out=str(tmp_path), silent_mouos=1)
    stages = {e["stage"]: e for e in document["stages"]}
    silent = stages["reconcile"]["counts"]["by_kind"]["no_submission"]
    assert silent == 1
    watched = stages["watchdog"]["counts"]
    [reminder_at, alert_at, authority_at] = watched["by_instant"]
    late = [who for who in watched["by_instant"][alert_at] if who.startswith("alert:")]
    [mouo] = [who.split(":")[1] for who in late if who != "alert:rcoi"]
    assert f"reminder:{mouo}" in watched["by_instant"][reminder_at]
    assert f"alert:{mouo}" in watched["by_instant"][alert_at]
    assert "escalation:coordinator" in watched["by_instant"][alert_at]
    assert watched["by_instant"][authority_at] == ["authority:authority"]
    # the other МОУО submitted: nobody else was reminded or alerted
    assert {w.split(":")[1] for w in watched["notified"] if w.startswith("reminder:")} == {
        mouo,
        "rcoi",
    }
    sent_before = _count(tmp_path, Notification)
    the_plan = load_plan(resolve_plan_path("kemerovo-2017-essay"))
    for moment in demo_instants(the_plan, "2017-12-06", timedelta(hours=24)):
        again = watchdog(out=str(tmp_path), session="2017-12-06", now=moment)
        assert sum(again["sent"].values()) == 0
        assert again["already_sent"] == again["due"] > 0
    assert _count(tmp_path, Notification) == sent_before
    outbox = sorted((tmp_path / "outbox").glob("watchdog-*.eml"))
    # every notice is recorded under its own key; several of one kind to one recipient went
    # out as one letter (the two escalations to the coordinator, the two to the authority)
    assert _count_keys(tmp_path, "watchdog:") - _count_keys(tmp_path, "watchdog:digest:") == sum(
        watched["sent"].values()
    )
    digests = [path for path in outbox if path.name.startswith("watchdog-digest-")]
    assert len(outbox) - len(digests) + sum(
        _decoded(path).count("\n  – «") for path in digests
    ) == sum(watched["sent"].values())
    # no participant's personal data in any alert
    people = pl.read_csv(tmp_path / "region" / "participants.csv", infer_schema=False)
    text = "\n".join(_decoded(path) for path in outbox)
    assert f"МОУО {mouo}" in text
    for column in ("snils", "surname", "document_number"):
        assert not [v for v in people[column].to_list() if v and v in text], column


def _count_keys(out: Path, prefix: str) -> int:
    from sqlalchemy import func, select

    from config.settings import Settings
    from tasks.adapters.unit_of_work import open_unit_of_work

    with open_unit_of_work(Settings(out_dir=out)) as uow:
        query = select(func.count()).where(Notification.dedup_key.startswith(prefix))
        return int(uow.session.scalar(query) or 0)


def _decoded(path: Path) -> str:
    from email import message_from_bytes, policy

    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return f"{message['To']}\n{message['Subject']}\n{body.get_content()}"


def test_the_coordinators_decisions_open_the_print_gate_and_survive_a_rerun(
    tmp_path: Path,
) -> None:
    from config.settings import Settings
    from flows.reconcile import reconcile
    from tasks.adapters.database import bootstrap
    from tasks.adapters.reconciliation import close_discrepancy, open_critical_count
    from tasks.adapters.unit_of_work import UnitOfWork

    document = campaign(
        participants=800,
        seed=3,
        out=str(tmp_path),
        silent_mouos=1,
        registry_errors=3,
        auto_accept=False,
    )
    stages = {e["stage"]: e for e in document["stages"]}
    assert stages["reconcile"]["counts"]["print_gate"] == "blocked"
    assert stages["print"]["status"] == "blocked"  # no kit is printed before the decisions
    assert not (tmp_path / "print").exists()
    database = bootstrap(Settings(out_dir=tmp_path))
    with UnitOfWork(database.session_factory) as uow:
        ids = list(
            uow.session.scalars(
                select(Discrepancy.id).where(
                    Discrepancy.status == "open", Discrepancy.severity == "critical"
                )
            )
        )
        for discrepancy_id in ids:
            close_discrepancy(uow.session, discrepancy_id, "accepted", "coord", "проверено")
        uow.commit()
    again = reconcile(out=str(tmp_path), session="2017-12-06")
    assert again["print_gate"] == "open"
    assert again["discrepancies"]["opened"] == 0
    with UnitOfWork(database.session_factory) as uow:
        assert open_critical_count(uow.session, 1) == 0
        statuses = set(
            uow.session.scalars(select(Discrepancy.status).where(Discrepancy.id.in_(ids)))
        )
    database.dispose()
    assert statuses == {"accepted"}


def _uploaded_and_informed(out: Path, stages: dict[str, Any], truth: dict[str, Any]) -> None:
    """The federal package holds every kit with its verified outcome and its pages, arrived
    whole in the local drop and was accepted; the lists name every participant once; running
    both stages again sends and mails nothing."""
    import csv

    from PIL import Image

    from tasks.adapters.federal_files import verify_manifest

    sent, informed = stages["upload"]["counts"], stages["inform"]["counts"]
    assert (stages["upload"]["status"], stages["inform"]["status"]) == ("completed", "completed")
    assert sent["receipt"] == {"status": "accepted", "problems": 0, "alerted": 0}
    kits = {w["work_code"]: w for w in truth["works"] if w["kind"] == "kit"}
    drop = out / "federal" / "incoming" / sent["name"]
    assert set(verify_manifest(drop)) == set(
        verify_manifest(out / "upload" / "2017-12-06" / sent["name"])
    )
    with (drop / "results.csv").open(encoding="utf-8") as stream:
        rows = {r["work_code"]: r for r in csv.DictReader(stream, delimiter=";")}
    assert set(rows) == set(kits)
    assert sent["works"] == len(kits)
    for code, work in kits.items():
        row = rows[code]
        if work["attendance"] != "present":
            assert row["outcome"] == "absent"
        elif not (work["flags"]["not_finished"] or work["flags"]["removed"]):
            assert row["result"] == work["expert_marks"]["overall"], code
        if row["image"]:
            assert Image.open(drop / row["image"]).n_frames == int(row["pages"])
    assert sum(int(r["pages"]) for r in rows.values()) == sent["pages"]
    assert informed["participants"] == len(kits)
    retake = sum(
        1 for r in rows.values() if r["outcome"] in ("failed", "removed", "not_finished", "absent")
    )
    assert informed["retake"] == retake  # first attempts all; the next session exists
    assert informed["mail"]["mailed"] == informed["mouo_lists"] > 0
    listed = pl.read_excel(out / "inform" / "2017-12-06" / "statistics.xlsx", sheet_name="по МОУО")
    assert listed.height > 0
    assert len(list((out / "inform" / "2017-12-06" / "charts").glob("*.png"))) == 3
    resent = upload(
        out=str(out), plan="kemerovo-2017-essay", session="2017-12-06", timeout_seconds=0
    )
    assert resent["sent"]["sent"] == 0
    assert resent["sent"]["skipped"] == sent["files"]
    assert resent["receipt"]["status"] == "accepted"  # the receipt already there is read again
    again = inform(out=str(out), plan="kemerovo-2017-essay", session="2017-12-06")
    assert again["mail"] == {"mailed": 0, "unchanged": informed["mouo_lists"], "no_address": 0}
    _changed_lists_are_mailed_again_even_back_to_the_first(out)
    _a_rejected_or_late_receipt_alerts_the_coordinator(out, sent)


def _outbox_subjects(out: Path) -> list[str]:
    import email
    from email.header import decode_header, make_header

    return [
        str(make_header(decode_header(email.message_from_bytes(p.read_bytes())["Subject"])))
        for p in sorted((out / "outbox").glob("*.eml"))
    ]


def _changed_lists_are_mailed_again_even_back_to_the_first(out: Path) -> None:
    from prefect.logging import disable_run_logger

    from config.settings import Settings
    from tasks.inform import mail_results, write_documents

    settings = Settings(out_dir=out)
    with disable_run_logger():
        documents = write_documents.fn(settings, "kemerovo-2017-essay", "2017-12-06")
        mouo = sorted(documents["schools_of_mouo"])[0]
        listed = out / "inform" / "2017-12-06" / "mouo" / f"{mouo}.pdf"
        first = listed.read_bytes()
        counts = []
        for content in (first + b"\n% corrected", first):  # A -> B -> A
            listed.write_bytes(content)
            counts.append(mail_results.fn(settings, "kemerovo-2017-essay", "2017-12-06", documents))
    assert [c["mailed"] for c in counts] == [1, 1]  # B is new, and so is A after B
    subject = f"Результаты итогового сочинения (изложения) 2017-12-06: {mouo}"
    assert _outbox_subjects(out).count(subject) == 3


def _a_rejected_or_late_receipt_alerts_the_coordinator(out: Path, sent: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    from prefect.logging import disable_run_logger

    from config.settings import Settings
    from tasks.upload import await_receipt

    settings = Settings(out_dir=out)
    receipt = out / "federal" / "returns" / f"{sent['name']}.receipt.json"
    document = json.loads(receipt.read_text(encoding="utf-8"))
    package = {"name": sent["name"], "manifest_sha256": sent["manifest_sha256"]}
    receipt.write_text(json.dumps({**document, "status": "rejected"}), encoding="utf-8")
    with disable_run_logger():
        rejected = await_receipt.fn(settings, "kemerovo-2017-essay", "2017-12-06", package, 0.1, 0)
        receipt.unlink()
        late = await_receipt.fn(
            settings,
            "kemerovo-2017-essay",
            "2017-12-06",
            package,
            0.1,
            0,
            now=datetime(2017, 12, 20, 12, tzinfo=UTC),  # two days after the scan window
        )
    assert (rejected["status"], rejected["alerted"]) == ("rejected", 1)
    assert (late["status"], late["alerted"]) == ("late", 1)
    subjects = _outbox_subjects(out)
    assert f"ФЦТ не принял пакет {sent['name']}" in subjects
    assert f"Нет квитанции ФЦТ на пакет {sent['name']}" in subjects
