"""The production topology (infra/topology.md) on this machine: the Prefect server on a fresh
PostgreSQL database, a process worker of a work pool running a deployment of the campaign flow,
and recognition on a Dask scheduler with two worker processes. Every service is a separate
process started by infra/local_servers.py on loopback."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from infra.local_servers import PrefectServer, dask_cluster, prefect_server, prefect_worker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "scan_samples"
ADMIN_DSN = os.environ.get(
    "RCOI_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
POOL = "rcoi"


def _dsn(database: str) -> str:
    return psycopg.conninfo.make_conninfo(ADMIN_DSN, dbname=database)


@pytest.fixture(scope="module")
def topology_database() -> Iterator[str]:
    """A fresh PostgreSQL database for the Prefect server; dropped at the end."""
    name = f"rcoi_topology_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable ({ADMIN_DSN}): {exc}")
    try:
        yield name
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def prefect_api(
    topology_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrefectServer]:
    """One Prefect server (API + UI) on that database for the module; this process's Prefect
    client points at it while the module runs."""
    import asyncpg  # the server's PostgreSQL driver, a dependency of prefect: never skipped
    from prefect.settings import PREFECT_API_URL, temporary_settings

    assert asyncpg.__version__
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{topology_database}"
    started = time.perf_counter()
    with prefect_server(url, home=tmp_path_factory.mktemp("prefect-home")) as server:
        print(f"prefect server on PostgreSQL up in {time.perf_counter() - started:.1f} s")
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            yield server


def test_the_prefect_server_keeps_its_state_in_the_postgresql_database(
    prefect_api: PrefectServer, topology_database: str
) -> None:
    assert httpx.get(f"{prefect_api.api_url}/health", timeout=10).json() is True
    assert httpx.get(prefect_api.url, timeout=10).status_code == 200  # the UI
    with psycopg.connect(_dsn(topology_database)) as connection:
        tables = {
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_catalog = %s AND table_schema = 'public'",
                (topology_database,),
            )
        }
    assert {"alembic_version", "flow", "flow_run", "task_run", "deployment", "work_pool"} <= tables
    # what the API writes lands in that database, not in a SQLite file of the server's home
    probe = f"topology-probe-{uuid.uuid4().hex[:8]}"
    created = httpx.post(f"{prefect_api.api_url}/flows/", json={"name": probe}, timeout=10)
    assert created.status_code in (200, 201), created.text
    with psycopg.connect(_dsn(topology_database)) as connection:
        row = connection.execute("SELECT id FROM flow WHERE name = %s", (probe,)).fetchone()
    assert row is not None
    assert str(row[0]) == created.json()["id"]
    assert not list(prefect_api.home.glob("*.db"))


def test_a_process_worker_runs_a_deployment_of_the_campaign_flow(
    prefect_api: PrefectServer, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.deployments import run_deployment
    from prefect.deployments.runner import EntrypointType
    from prefect.workers.process import ProcessWorker

    from flows.campaign import campaign

    with get_client(sync_client=True) as client:
        client.create_work_pool(
            WorkPoolCreate(
                name=POOL,
                type="process",
                base_job_template=ProcessWorker.get_default_base_job_template(),
            ),
            overwrite=True,
        )
    # The worker imports the flow by module path (flows.campaign) from the installed project. A
    # file-path entrypoint (flow.from_source(path, "flows/campaign.py:campaign")) puts flows/ on
    # sys.path, where flows/copy.py shadows the standard library's `copy` in the print stage's
    # forkserver processes: that run fails with BrokenProcessPool.
    deployment_id = campaign.deploy(
        name="topology",
        work_pool_name=POOL,
        entrypoint_type=EntrypointType.MODULE_PATH,
        job_variables={"working_dir": str(ROOT)},
        build=False,
        push=False,
        print_next_steps=False,
    )
    with get_client(sync_client=True) as client:
        assert client.read_deployment(deployment_id).entrypoint == "flows.campaign.campaign"
    out = tmp_path / "campaign"
    with prefect_worker(prefect_api.api_url, POOL, home=tmp_path / "worker-home") as worker:
        started = time.perf_counter()
        flow_run = run_deployment(
            "campaign/topology",
            parameters={"participants": 30, "simulate": False, "out": str(out)},
            timeout=240,
        )
        took = time.perf_counter() - started
        log = worker.log.read_text(encoding="utf-8", errors="replace")
    print(f"campaign deployment run by the worker in {took:.1f} s")
    assert flow_run.state is not None
    assert flow_run.state.is_completed(), (flow_run.state, log[-4000:])
    assert flow_run.deployment_id == deployment_id
    assert flow_run.work_pool_name == POOL
    # run in a process the worker started, not in this one
    assert flow_run.infrastructure_pid
    pid = int(flow_run.infrastructure_pid.rpartition(":")[2])
    assert pid not in (os.getpid(), worker.pid)
    assert str(flow_run.id) in log
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["campaign"]["participants"] == 30
    stages = {s["stage"]: s["status"] for s in summary["stages"]}
    for stage in ("collect", "reconcile", "print", "publish"):
        assert stages[stage] == "completed", stages
    assert (out / "rcoi.sqlite").is_file()


def _records(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    # the quarantine copy's path names the run's own folder
    return [{k: v for k, v in json.loads(line).items() if k != "quarantine"} for line in lines]


def test_recognition_fans_out_over_a_separate_dask_scheduler_and_its_workers(
    prefect_api: PrefectServer, topology_database: str, tmp_path: Path
) -> None:
    import distributed

    from flows.scan import run_scan

    local = tmp_path / "local" / "results.jsonl"
    run_scan(folder=str(SAMPLES), out=str(tmp_path), results=str(local), workers=2)
    on_dask = tmp_path / "dask" / "results.jsonl"
    # a worker host needs the project installed, the scans at the same path, and the API
    worker_env = {"PREFECT_API_URL": prefect_api.api_url}
    with (
        dask_cluster(2, log_dir=tmp_path / "dask-logs", env=worker_env) as address,
        distributed.Client(address) as client,
    ):
        pids = client.run(os.getpid)  # worker address -> its process id
        with distributed.get_task_stream(client=client) as stream:
            summary = run_scan(
                dask_address=address,
                folder=str(SAMPLES),
                out=str(tmp_path),
                results=str(on_dask),
                workers=2,
            )
    assert summary["files_recognised"] == summary["files"] > 0
    assert _records(on_dask) == _records(local)
    chunks = [t for t in stream.data if str(t["key"]).startswith("recognise_chunk_task")]
    assert chunks, [t["key"] for t in stream.data]
    ran_on = {t["worker"] for t in chunks}
    assert ran_on == set(pids)  # fanned out: both worker processes recognised chunks
    assert os.getpid() not in {pids[w] for w in ran_on}
    # each chunk is a Prefect task run of the flow, recorded by the server on PostgreSQL
    with psycopg.connect(_dsn(topology_database)) as connection:
        (recorded,) = connection.execute(
            "SELECT count(*) FROM task_run WHERE name LIKE 'recognise-chunk-%'"
            " AND state_type = 'COMPLETED'"
        ).fetchone() or (0,)
    assert recorded == len(chunks)
    print(f"{len(chunks)} chunks on {len(ran_on)} of {len(pids)} Dask workers")
