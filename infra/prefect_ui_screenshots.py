"""Screenshots of the Prefect UI for the docs: stage runs named «этап · регион · сеанс», tagged
`plan:` `region:` `session:` `stage:`, and a print run that waits for people in a Completed
state named «Ожидание» with its Russian reason.

    .venv/bin/python -m infra.prefect_ui_screenshots --out docs/images

A Prefect server with its UI on a free loopback port (infra.local_servers), the real `rcoi`
command line against it (a small demo; a demo whose print gate stays closed; `rcoi print`,
refused), then Debian's Chromium through Playwright (never a downloaded browser) saves
prefect-runs.png (the runs list) and prefect-waiting.png (the waiting print run). Everything
started is stopped on the way out, also on an error.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from infra.local_servers import free_port, prefect_server, service_environment

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1600, "height": 1000}
WAITING = "Ожидание"
SEARCH_RUNS = "Search by flow run name"  # the runs list's toolbar
CLI_RETRY_S = 600.0  # the CLI may be mid-refactor: retry its import this long


class ScreenshotError(RuntimeError):
    pass


def rcoi_command() -> list[str]:
    """The `rcoi` console script of this venv, else `python -m flows.cli`."""
    script = Path(sys.executable).parent / "rcoi"
    return [str(script)] if script.exists() else [sys.executable, "-m", "flows.cli"]


def wait_for_cli(env: dict[str, str], timeout_s: float = CLI_RETRY_S) -> None:
    """`rcoi --help` until it answers (an import error while others edit the CLI: retry)."""
    deadline = time.monotonic() + timeout_s
    while True:
        done = subprocess.run(
            [*rcoi_command(), "--help"], env=env, cwd=ROOT, capture_output=True, text=True
        )
        if done.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise ScreenshotError(f"rcoi does not start:\n{done.stderr[-2000:]}")
        print(f"rcoi --help exited {done.returncode}; retrying in 60 s", file=sys.stderr)
        time.sleep(60)


def rcoi(args: Sequence[str], env: dict[str, str], log: Path, expect: int) -> None:
    """Run `rcoi ARGS` (output to `log`); it must exit with `expect`."""
    command = [*rcoi_command(), *args]
    print("$ rcoi " + " ".join(args), flush=True)
    with log.open("wb") as out:
        done = subprocess.run(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != expect:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        what = f"rcoi {' '.join(args)}: exit {done.returncode}, not {expect}"
        raise ScreenshotError(f"{what}\n{tail}")


def make_runs(work: Path, env: dict[str, str]) -> None:
    """A finished small campaign, then a session whose print gate stays closed (open
    critical discrepancies, nobody accepts them) and a refused `rcoi print` on it."""
    wait_for_cli(env)
    demo = ["demo", "--participants", "40", "--no-simulate"]
    rcoi([*demo, "--seed", "7", "--out", str(work / "demo")], env, work / "demo.log", 0)
    blocked = work / "blocked"
    rcoi(
        [*demo, "--seed", "8", "--out", str(blocked), "--error-rate", "0.05", "--no-auto-accept"],
        env,
        work / "blocked.log",
        0,
    )
    rcoi(["print", "--out", str(blocked)], env, work / "print.log", 1)


def flow_runs(api_url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    answer = httpx.post(f"{api_url}/flow_runs/filter", json=body, timeout=30)
    answer.raise_for_status()
    return list(answer.json())


def waiting_print_run(api_url: str) -> dict[str, Any]:
    """The newest flow run in state «Ожидание» of the print stage."""
    runs = flow_runs(
        api_url,
        {
            "flow_runs": {
                "state": {"name": {"any_": [WAITING]}},
                "tags": {"all_": ["stage:print"]},
            },
            "sort": "START_TIME_DESC",
        },
    )
    if not runs:
        raise ScreenshotError(f"no print run in state {WAITING!r}")
    return runs[0]


def report_runs(api_url: str) -> None:
    """One line per flow run: name, state, tags (for the log; odd runs show here)."""
    for run in flow_runs(api_url, {"sort": "START_TIME_DESC"}):
        state = run.get("state") or {}
        print(
            f"  {run['name']:32} {state.get('type', '?'):10} {state.get('name', '?'):10} "
            f"{','.join(sorted(run.get('tags') or []))}"
        )


def shoot(ui_url: str, api_url: str, out: Path) -> tuple[Path, Path]:
    from playwright.sync_api import sync_playwright

    runs_png, waiting_png = out / "prefect-runs.png", out / "prefect-waiting.png"
    run = waiting_print_run(api_url)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport=VIEWPORT, color_scheme="light", locale="ru-RU")
            page.set_default_timeout(60_000)

            page.goto(f"{ui_url}/runs", wait_until="networkidle")
            page.get_by_text(run["name"]).first.wait_for()
            page.get_by_text("stage:print").first.wait_for()
            page.get_by_text(WAITING).first.wait_for()
            page.wait_for_load_state("networkidle")
            # More rows in the frame: the list (its toolbar) at the top, the chart above it
            # scrolled off. No CSS zoom: the layout's 100vh would leave the bottom empty.
            page.get_by_role("searchbox", name=SEARCH_RUNS).evaluate(
                "e => e.scrollIntoView({block: 'start'})"
            )
            page.wait_for_timeout(500)  # one repaint after the scroll
            page.screenshot(path=str(runs_png), type="png")

            page.goto(f"{ui_url}/runs/flow-run/{run['id']}", wait_until="networkidle")
            page.get_by_text(WAITING).first.wait_for()
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(waiting_png), type="png")
        finally:
            browser.close()
    return runs_png, waiting_png


@contextlib.contextmanager
def work_dir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="prefect-ui-shots-") as tmp:
        yield Path(tmp)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--work", type=Path, help="keep the runs' folders and logs here")
    options = parser.parse_args(argv)
    out: Path = options.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    # The UI asks the API at PREFECT_UI_API_URL, which defaults to port 4200 whatever
    # `--port` says; no promotional banners in the docs.
    server_env = {
        "PREFECT_UI_API_URL": api_url,
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    }
    with (
        work_dir(options.work) as work,
        prefect_server(ui=True, port=port, home=work / "prefect-home", env=server_env) as server,
    ):
        print(f"Prefect server: {server.url} (log {server.service.log})", flush=True)
        env = service_environment(
            {"RCOI_PREFECT_API_URL": server.api_url, "RCOI_OUT_DIR": str(work / "out")},
            drop=("PREFECT_API_URL", "PREFECT_PROFILE"),
        )
        make_runs(work, env)
        report_runs(server.api_url)
        paths = shoot(server.url, server.api_url, out)
    for path in paths:
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
