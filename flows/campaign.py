"""The campaign flow: runs a whole session end to end over the stages built so far."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from config.settings import Settings
from flows.collect import collect
from flows.copy import copy
from flows.grade import grade
from flows.inform import inform
from flows.labels import is_waiting, stage_flow
from flows.print_kits import print_kits
from flows.publish import demo_start, publish, publish_counts
from flows.reconcile import reconcile
from flows.scan import run_scan
from flows.simulate import simulate_exam
from flows.upload import upload
from flows.verify import verify
from flows.watchdog import demo_instants, watchdog
from tasks import progress
from tasks.adapters.plan_files import resolve_plan_path
from tasks.campaign import (
    demo_coordinator_accepts,
    demo_performers_mark_rows,
    publish_skipped,
    write_campaign_summary,
)
from tasks.domain.summary import StageSummary
from tasks.grade import grade_accuracy
from tasks.plan import read_plan, store_plan
from tasks.publish import load_topics
from tasks.region import generate_region_files, load_region_structure
from tasks.scan import scan_accuracy


@stage_flow("campaign", waits=False)
def campaign(
    participants: int = 2000,
    seed: int = 42,
    out: str = "out/demo",
    plan: str = "kemerovo-2017-essay",
    session: str | None = None,
    error_rate: float = 0.0,
    silent_mouos: int = 0,
    registry_errors: int = 0,
    auto_accept: bool = True,
    simulate: bool = False,
) -> dict[str, Any]:
    """Resolve the plan, generate a region for its session, load its organisation into the
    regional database, collect the МОУО files, reconcile them, run the deadline watchdog on a
    simulated clock, print (after the demo's simulated coordinator accepts what reconciliation
    left open, unless `auto_accept` is off: then the campaign stops at the print gate), publish
    the topics at 09:45 on a simulated clock, with `simulate` simulate the exam day (the scans
    schools send back, with their ground truth) and scan it (with its accuracy against that
    truth), copy, grade and verify it (the demo's simulated operators resolving the queue),
    upload the federal package (to the local drop, where a simulated federal centre answers)
    and inform (lists, statistics, retake list, mail to every МОУО), and write
    `<out>/summary.json`."""
    out_dir = Path(out)
    settings = Settings(out_dir=out_dir)
    the_plan = read_plan(resolve_plan_path(plan))
    exam_session = the_plan.session(session) if session else the_plan.sessions[0]
    info = {
        "plan": the_plan.id,
        "region": the_plan.region.code,
        "zone": the_plan.region.timezone,
        "session": exam_session.id,
        "participants": participants,
        "seed": seed,
        "error_rate": error_rate,
        "silent_mouos": silent_mouos,
        "registry_errors": registry_errors,
        "auto_accept": auto_accept,
        "simulate": simulate,
    }
    steps = progress.bar("Демонстрация", 15 if simulate else 8, "этапов")
    steps.step("план в базе")
    entries = [StageSummary("plan", "completed", store_plan(settings, the_plan))]
    region_dir = out_dir / "region"
    steps.step("генерация региона")
    generated = generate_region_files(
        region_dir,
        participants,
        seed,
        the_plan.region.code,
        exam_session.exam_date,
        error_rate,
        silent_mouos,
        the_plan.session_ordinal(exam_session.id),
        registry_errors,
    )
    entries.append(StageSummary("generate_region", "completed", generated))
    steps.step("загрузка региона")
    structure = load_region_structure(settings, region_dir)
    entries.append(StageSummary("load_region", "completed", structure))
    steps.step("сбор файлов МОУО")
    collected = collect(
        inbox=str(region_dir / "submissions"), out=out, plan=plan, session=exam_session.id
    )
    if _waits(entries, "collect", collected):
        return write_campaign_summary(out_dir, info, entries)
    entries.append(
        StageSummary(
            "collect", "completed", {k: v for k, v in collected.items() if k != "verdicts"}
        )
    )
    steps.step("выверка")
    reconciled = reconcile(out=out, plan=plan, session=exam_session.id)
    if _waits(entries, "reconcile", reconciled):
        return write_campaign_summary(out_dir, info, entries)
    entries.append(StageSummary("reconcile", "completed", reconciled))
    # The watchdog on a simulated clock around the submission deadline: the silent МОУО gets
    # a reminder, then an alert, the coordinator and then the authority an escalation.
    steps.step("контроль сроков")
    instants = demo_instants(the_plan, exam_session.id, timedelta(hours=24))
    if instants:  # the simulated schools' own rows (applications, commissions) done in time
        demo_performers_mark_rows(
            settings, the_plan.id, exam_session.id, instants[-1], instants[0] - timedelta(hours=1)
        )
    watched = {
        moment.isoformat(): watchdog(out=out, plan=plan, session=exam_session.id, now=moment)
        for moment in instants
    }
    entries.append(StageSummary("watchdog", "completed", _watch_counts(watched)))
    # Printing waits for the coordinator's decisions; the demo's simulated coordinator
    # accepts what reconciliation left open (audit-logged under its own name).
    accepted = (
        demo_coordinator_accepts(settings, the_plan.id, exam_session.id) if auto_accept else 0
    )
    if reconciled["print_gate"] == "blocked" and not auto_accept:
        entries.append(StageSummary("print", "blocked", {"open": reconciled["open"]}))
        return write_campaign_summary(out_dir, info, entries)
    steps.step("печать")
    printed = print_kits(out=out, plan=plan, session=exam_session.id, seed=seed)
    if _waits(entries, "print", printed):
        return write_campaign_summary(out_dir, info, entries)
    entries.append(StageSummary("print", "completed", {**printed, "accepted_by_demo": accepted}))
    # Topics sealed ahead of time, published at the instant on a simulated clock started a
    # minute early (09:44 local): the run waits, never publishes early, mails every МОУО.
    steps.step("публикация тем")
    publish_at = demo_start(the_plan, exam_session.id)
    if publish_at is None:  # no publish stage, or no topics: said so, with the reason
        entries.append(publish_skipped(the_plan, exam_session.id))
    else:
        load_topics(settings, the_plan, exam_session.id)
        published = publish(plan=plan, session=exam_session.id, out=out, now=publish_at)
        entries.append(StageSummary("publish", "completed", publish_counts(published)))
    if simulate:
        # The exam day, simulated: what the schools send back (scans, room records) and the
        # ground truth the scan stage is measured against. Test equipment, not a plan stage.
        steps.step("день экзамена")
        simulated = simulate_exam(
            print_dir=str(out_dir / "print" / exam_session.id), out=out, seed=seed, plan=plan
        )
        entries.append(StageSummary("exam_day", "completed", simulated))
        # The scan stage reads the simulated originals back; its summary says how well,
        # measured against the simulator's ground truth.
        day = out_dir / "exam_day" / exam_session.id
        steps.step("распознавание")
        scanned = run_scan(folder=str(day / "scans"), out=out, plan=plan, session=exam_session.id)
        if _waits(entries, "scan", scanned):
            return write_campaign_summary(out_dir, info, entries)
        scanned["accuracy"] = scan_accuracy(Path(scanned["results"]), day / "ground_truth.json")
        entries.append(StageSummary("scan", "completed", scanned))
        # Copies for the experts, their protocols, then one queue for the people; the demo's
        # simulated operators (named as such in the audit log) answer it from the ground truth.
        steps.step("копии экспертам")
        copied = copy(out=out, plan=plan, session=exam_session.id)
        if _waits(entries, "copy", copied):
            return write_campaign_summary(out_dir, info, entries)
        entries.append(StageSummary("copy", "completed", copied))
        steps.step("проверка")
        graded = grade(out=out, plan=plan, session=exam_session.id)
        if _waits(entries, "grade", graded):
            return write_campaign_summary(out_dir, info, entries)
        graded["accuracy"] = grade_accuracy(
            settings, the_plan.id, exam_session.id, day / "ground_truth.json"
        )
        entries.append(StageSummary("grade", "completed", graded))
        steps.step("верификация")
        verified = verify(
            out=out,
            plan=plan,
            session=exam_session.id,
            poll_seconds=1.0,
            timeout_seconds=5.0,
            demo_ground_truth=str(day / "ground_truth.json"),
        )
        if _waits(entries, "verify", verified):
            return write_campaign_summary(out_dir, info, entries)
        verify_done = verified["wait"]["open"] == 0
        entries.append(StageSummary("verify", "completed" if verify_done else "waiting", verified))
        if verify_done:
            # The package to the local drop, where the demo's simulated federal centre
            # answers with a receipt; then the lists, the statistics and the retake list.
            steps.step("выгрузка в ФЦТ")
            sent = upload(
                out=out,
                plan=plan,
                session=exam_session.id,
                poll_seconds=1.0,
                timeout_seconds=5.0,
                demo_federal_centre=True,
            )
            if _waits(entries, "upload", sent):
                return write_campaign_summary(out_dir, info, entries)
            entries.append(StageSummary("upload", _upload_status(sent), _upload_counts(sent)))
            steps.step("информирование")
            informed = inform(out=out, plan=plan, session=exam_session.id)
            if _waits(entries, "inform", informed):
                return write_campaign_summary(out_dir, info, entries)
            entries.append(StageSummary("inform", "completed", informed))
        else:
            entries += [StageSummary("upload", "blocked"), StageSummary("inform", "blocked")]
    else:
        for stage in ("exam_day", "scan", "copy", "grade", "verify", "upload", "inform"):
            entries.append(StageSummary(stage, "skipped"))
    steps.close()
    return write_campaign_summary(out_dir, info, entries)


def _waits(entries: list[StageSummary], stage: str, summary: dict[str, Any]) -> bool:
    """A stage that ended waiting for people (flows/labels.py) ends the campaign there."""
    if not is_waiting(summary):
        return False
    entries.append(StageSummary(stage, "waiting", summary))
    return True


def _upload_status(sent: dict[str, Any]) -> str:
    return "completed" if sent["receipt"]["status"] == "accepted" else sent["receipt"]["status"]


def _upload_counts(sent: dict[str, Any]) -> dict[str, Any]:
    package = {k: v for k, v in sent["package"].items() if k != "directory"}
    return {**package, "sent": sent["sent"], "receipt": sent["receipt"]}


def _watch_counts(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The watchdog's runs for summary.json: per kind, how many went out and to whom."""
    sent: dict[str, int] = {}
    for run in runs.values():
        for kind, count in run["sent"].items():
            sent[kind] = sent.get(kind, 0) + count
    return {
        "runs": len(runs),
        "sent": sent,
        "notified": sorted({who for run in runs.values() for who in run["notified"]}),
        "by_instant": {at: run["notified"] for at, run in runs.items()},
    }
