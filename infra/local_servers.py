"""Local copies of the production services (infra/topology.md), on loopback and free ports: a
Prefect server on a given database, a process worker for a work pool, a Dask scheduler and its
workers. The integration tests start them (tests/integration/test_topology.py); so can a
developer, by hand:

    .venv/bin/python -m infra.local_servers prefect-server \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/prefect
    .venv/bin/python -m infra.local_servers dask-cluster --workers 2

Every service is a child process in its own process group (session), its output in a log
file. Leaving a context manager, normally or by an exception, stops the whole group: SIGTERM,
then SIGKILL for whatever is left after a grace period, so no server outlives a failed test.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

__all__ = [
    "LocalService",
    "PrefectServer",
    "ServiceError",
    "dask_cluster",
    "dask_scheduler",
    "dask_worker",
    "free_port",
    "prefect_server",
    "prefect_worker",
    "service_environment",
    "start_service",
    "stop_service",
]

LOOPBACK = "127.0.0.1"
BIN = Path(sys.executable).parent
# Off in every child, whatever the caller's environment says.
QUIET = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


class ServiceError(RuntimeError):
    """A service did not come up (the message ends with the tail of its log)."""


@dataclass
class LocalService:
    """One started child process (the leader of its own process group) and its log."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class PrefectServer:
    service: LocalService
    url: str  # http://127.0.0.1:PORT
    database_url: str | None
    home: Path

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"


def free_port() -> int:
    """A TCP port free on loopback right now (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def executable(name: str) -> str:
    """A console script of this interpreter's environment (the project's venv), else PATH's."""
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        raise ServiceError(f"{name!r} not found next to {sys.executable} nor on PATH")
    return found


def service_environment(
    extra: Mapping[str, str] | None = None, *, drop: tuple[str, ...] = ()
) -> dict[str, str]:
    """This process's environment with analytics off, the venv first on PATH, `extra` added
    and the `drop` names removed."""
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(QUIET)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.update(extra or {})
    return env


def start_service(
    name: str,
    args: list[str],
    log: Path,
    env: Mapping[str, str],
    cwd: Path | None = None,
) -> LocalService:
    """Start `args` in a new session (its own process group), output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    stream: IO[bytes]
    with log.open("ab") as stream:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=stream,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    return LocalService(name, process, log)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we cannot signal: treat the group as alive
        return True
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_service(service: LocalService, grace_s: float = 15.0) -> None:
    """SIGTERM to the service's whole process group; SIGKILL to what is left after `grace_s`
    (the leader and any child it started: uvicorn workers, Dask nannies' workers, flow runs)."""
    pgid = service.pid  # start_new_session: the leader's pid is the group's id
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    with contextlib.suppress(subprocess.TimeoutExpired):
        service.process.wait(timeout=grace_s)
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal_group(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        service.process.wait(timeout=5)


@contextlib.contextmanager
def running(service: LocalService, grace_s: float = 15.0) -> Iterator[LocalService]:
    try:
        yield service
    finally:
        stop_service(service, grace_s)


def wait_until(
    service: LocalService, ready: Callable[[], bool], timeout_s: float, what: str
) -> None:
    """Poll `ready` until it holds; fail early if the service exits, or after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not service.running():
            raise ServiceError(
                f"{service.name} exited with code {service.process.returncode} before {what}:\n"
                f"{service.log_tail()}"
            )
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.5)
    raise ServiceError(f"{service.name}: no {what} within {timeout_s:.0f} s:\n{service.log_tail()}")


@contextlib.contextmanager
def _work_dir(path: Path | None, prefix: str) -> Iterator[Path]:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


@contextlib.contextmanager
def prefect_server(
    database_url: str | None = None,
    *,
    port: int | None = None,
    home: Path | None = None,
    ui: bool = True,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 180.0,
) -> Iterator[PrefectServer]:
    """`prefect server start --host 127.0.0.1 --port N` on `database_url` (SQLAlchemy async
    URL, e.g. postgresql+asyncpg://...; None: SQLite under `home`), PREFECT_HOME in `home`
    (default: a temporary folder). Yields once GET /api/health answers; the server migrates
    its database on start."""
    port = port or free_port()
    with _work_dir(home, "prefect-home-") as prefect_home:
        # The UI asks the API at 127.0.0.1:4200 unless told: on any other port it would show
        # «Can't connect to Server API».
        extra = {
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_UI_API_URL": f"http://{LOOPBACK}:{port}/api",
            **(env or {}),
        }
        if database_url:
            extra["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url
        args = [executable("prefect"), "server", "start", "--host", LOOPBACK, "--port", str(port)]
        args += ["--analytics-off"] + ([] if ui else ["--no-ui"])
        service = start_service(
            "prefect server",
            args,
            prefect_home / "server.log",
            service_environment(extra, drop=("PREFECT_API_URL", "PREFECT_PROFILE")),
        )
        url = f"http://{LOOPBACK}:{port}"
        with running(service):

            def healthy() -> bool:
                return httpx.get(f"{url}/api/health", timeout=5).status_code == 200

            wait_until(service, healthy, timeout_s, f"answer on {url}/api/health")
            yield PrefectServer(service, url, database_url, prefect_home)


@contextlib.contextmanager
def prefect_worker(
    api_url: str,
    pool: str,
    *,
    name: str | None = None,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    query_seconds: float = 2.0,
    timeout_s: float = 90.0,
) -> Iterator[LocalService]:
    """`prefect worker start --pool POOL --type process` against `api_url` (…/api). It runs each
    flow run of the pool's deployments as `<this python> -m prefect.engine` with the worker's
    environment plus `env`. Yields once the worker has registered with the pool (its first
    heartbeat); it polls every `query_seconds`."""
    name = name or f"{pool}-{socket.gethostname()}-{os.getpid()}"
    with _work_dir(home, "prefect-worker-") as prefect_home:
        extra = {
            "PREFECT_API_URL": api_url,
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_WORKER_QUERY_SECONDS": str(query_seconds),
            **(env or {}),
        }
        args = [executable("prefect"), "worker", "start", "--pool", pool, "--type", "process"]
        args += ["--name", name, "--install-policy", "never"]
        service = start_service(
            f"prefect worker {name}",
            args,
            prefect_home / "worker.log",
            service_environment(extra),
            cwd,
        )
        with running(service):

            def registered() -> bool:
                answer = httpx.post(
                    f"{api_url}/work_pools/{pool}/workers/filter", json={}, timeout=5
                )
                return answer.status_code == 200 and any(
                    w.get("name") == name for w in answer.json()
                )

            wait_until(service, registered, timeout_s, f"registration with pool {pool!r}")
            yield service


def _accepts(port: int) -> bool:
    with socket.create_connection((LOOPBACK, port), timeout=2):
        return True


def _dask_connected(address: str, workers: int) -> bool:
    from distributed import Client

    with Client(address, timeout=10) as client:
        client.wait_for_workers(workers, timeout=5)
    return True


@contextlib.contextmanager
def dask_scheduler(
    *,
    port: int | None = None,
    log_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 60.0,
) -> Iterator[str]:
    """`dask scheduler` on loopback (no dashboard); yields its address tcp://127.0.0.1:PORT."""
    port = port or free_port()
    with _work_dir(log_dir, "dask-scheduler-") as folder:
        args = [executable("dask"), "scheduler", "--host", LOOPBACK, "--port", str(port)]
        args += ["--no-dashboard"]
        service = start_service(
            "dask scheduler", args, folder / "scheduler.log", service_environment(env)
        )
        address = f"tcp://{LOOPBACK}:{port}"
        with running(service):
            wait_until(service, lambda: _accepts(port), timeout_s, f"listening on {address}")
            yield address


@contextlib.contextmanager
def dask_worker(
    address: str,
    *,
    name: str,
    nthreads: int = 1,
    log_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[LocalService]:
    """`dask worker ADDRESS` (a nanny and one worker process, `nthreads` threads, no dashboard),
    as each recognition host runs it. Yields once started; the caller waits for the scheduler
    to see it (dask_cluster does)."""
    with _work_dir(log_dir, "dask-worker-") as folder:
        args = [executable("dask"), "worker", address, "--name", name, "--host", LOOPBACK]
        args += ["--nthreads", str(nthreads), "--nworkers", "1", "--no-dashboard"]
        args += ["--local-directory", str(folder / f"{name}-space")]
        service = start_service(
            f"dask worker {name}", args, folder / f"{name}.log", service_environment(env), cwd
        )
        with running(service):
            yield service


@contextlib.contextmanager
def dask_cluster(
    workers: int = 2,
    *,
    nthreads: int = 1,
    log_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = 90.0,
) -> Iterator[str]:
    """A scheduler and `workers` separate `dask worker` processes; yields the scheduler's
    address once all workers are connected. Falls back to distributed.LocalCluster with
    worker processes if the `dask` command is absent."""
    try:
        executable("dask")
    except ServiceError:
        from distributed import LocalCluster

        with LocalCluster(
            n_workers=workers,
            threads_per_worker=nthreads,
            processes=True,
            host=LOOPBACK,
            dashboard_address=None,
        ) as cluster:
            yield cluster.scheduler_address
        return
    with (
        _work_dir(log_dir, "dask-cluster-") as folder,
        dask_scheduler(log_dir=folder, env=env) as address,
        contextlib.ExitStack() as stack,
    ):
        started = [
            stack.enter_context(
                dask_worker(
                    address,
                    name=f"worker-{i}",
                    nthreads=nthreads,
                    log_dir=folder,
                    env=env,
                    cwd=cwd,
                )
            )
            for i in range(1, workers + 1)
        ]
        wait_until(
            started[0],
            lambda: _dask_connected(address, workers),
            timeout_s,
            f"{workers} workers connected to {address}",
        )
        yield address


def _serve_forever() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("prefect-server", help="a Prefect server with its UI")
    server.add_argument("--database-url", help="postgresql+asyncpg://...; default: SQLite")
    server.add_argument("--port", type=int)
    server.add_argument("--home", type=Path, help="PREFECT_HOME (default: a temporary folder)")
    worker = commands.add_parser("prefect-worker", help="a process worker for a work pool")
    worker.add_argument("--api-url", required=True, help="http://127.0.0.1:PORT/api")
    worker.add_argument("--pool", default="rcoi")
    cluster = commands.add_parser("dask-cluster", help="a Dask scheduler and worker processes")
    cluster.add_argument("--workers", type=int, default=2)
    options = parser.parse_args(argv)
    if options.command == "prefect-server":
        with prefect_server(options.database_url, port=options.port, home=options.home) as srv:
            print(f"PREFECT_API_URL={srv.api_url}  (UI: {srv.url}; logs: {srv.service.log})")
            _serve_forever()
    elif options.command == "prefect-worker":
        with prefect_worker(options.api_url, options.pool) as service:
            print(f"worker of pool {options.pool!r} running (log: {service.log})")
            _serve_forever()
    else:
        with dask_cluster(options.workers) as address:
            print(f"RCOI_DASK_ADDRESS={address}")
            _serve_forever()


if __name__ == "__main__":
    main()
