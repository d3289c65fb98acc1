"""The `recognition` data contract run by Great Expectations: a batch's records as the scan
stage writes them pass, and each rule fails on the record that breaks it and on no other. The
frame is built as tasks/scan.py builds it (`contract_frame` from tasks/domain/scan_checks.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.adapters.contracts import ContractRun, load_contract, run_contract
from tasks.domain.identifiers import make_work_code
from tasks.domain.page_reading import finish
from tasks.domain.scan_checks import SessionCodes, contract_frame

pytestmark = pytest.mark.integration

KIT = make_work_code("42", 2017, 1, 101)
OTHER_SESSION = make_work_code("42", 2017, 2, 101)
SESSION = SessionCodes({KIT: ("kit", "4201001")}, ("101",))


def _record(file: str, frame: int, reasons: list[str], work: str | None = KIT) -> dict[str, Any]:
    return finish(
        {"source_file": file, "frame": frame, "page_id": f"{file}-{frame}", "work_code": work},
        reasons,
    )


def _batch() -> tuple[list[dict[str, Any]], dict[str, int], set[str]]:
    records = [
        _record("a.tif", 0, []),
        _record("a.tif", 1, ["digits_uncertain"]),
        _record("b.jpg", 0, ["no_contrast"], work=None),
    ]
    return records, {"a.tif": 2, "b.jpg": 1}, {"b.jpg-0"}


def _run(records: list[dict[str, Any]], frames: dict[str, int], kept: set[str]) -> ContractRun:
    return run_contract(
        contract_frame(records, frames, SESSION, kept), load_contract("recognition")
    )


def _failing(run: ContractRun) -> dict[str, int]:
    return {rule: count for rule, count in run.rules.items() if count}


def test_a_batch_as_the_scan_stage_writes_it_passes() -> None:
    run = _run(*_batch())
    assert run.success, _failing(run)


def test_two_records_of_one_page_fail_one_record_per_page() -> None:
    records, frames, kept = _batch()
    records.append(_record("a.tif", 1, []))
    frames["a.tif"] = 3  # the count rule still holds: only the duplicate key is wrong
    assert _failing(_run(records, frames, kept)) == {"one_record_per_page": 2}


def test_a_page_without_a_record_fails_every_page_recorded() -> None:
    records, frames, kept = _batch()
    frames["a.tif"] = 3
    frames["c.pdf"] = 1
    assert set(_failing(_run(records, frames, kept))) == {"every_page_recorded"}


def test_an_unknown_status_fails_status_known_and_reasons_known() -> None:
    records, frames, kept = _batch()
    records[0]["status"] = "maybe"
    assert _failing(_run(records, frames, kept)) == {"status_known": 1, "reasons_known": 1}


def test_a_reason_outside_the_vocabulary_or_a_status_milder_than_it_fails() -> None:
    records, frames, kept = _batch()
    records[0]["reasons"] = ["looks_odd"]
    records[1]["status"] = "accepted"  # its reason needs verification
    assert _failing(_run(records, frames, kept)) == {"reasons_known": 2}


def test_an_accepted_page_without_a_valid_work_code_of_the_session_fails() -> None:
    records, frames, kept = _batch()
    records[0]["work_code"] = OTHER_SESSION
    bad_digit = KIT[:-1] + str((int(KIT[-1]) + 1) % 10)
    records.append(_record("d.png", 0, [], work=bad_digit))
    records.append(_record("e.png", 0, [], work=None))
    frames |= {"d.png": 1, "e.png": 1}
    assert _failing(_run(records, frames, kept)) == {"accepted_work_code": 3}


def test_a_rejected_page_not_in_quarantine_fails() -> None:
    records, frames, _ = _batch()
    assert _failing(_run(records, frames, set())) == {"rejected_quarantined": 1}
