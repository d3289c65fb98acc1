"""The `rcoi` command line: one module per command group, `common` for what they share.

Exit codes (README, «Commands»): 0 done; 1 refused or failed; 2 a usage error or something not
found. A refusal is one Russian line on stderr."""

from __future__ import annotations

import typer

from flows.cli import (
    db,
    demo,
    discrepancies,
    grading,
    plan,
    reaper,
    region,
    run,
    scan,
    serve,
    server,
    simulate,
    stages,
    topics,
)
from flows.cli.common import EXIT_DONE, EXIT_REFUSED, EXIT_USAGE

__all__ = ["EXIT_DONE", "EXIT_REFUSED", "EXIT_USAGE", "app", "main"]

app = typer.Typer(
    help="РЦОИ: план-график итогового сочинения как потоки Prefect.",
    no_args_is_help=True,
    add_completion=False,
)
plan.register(app)
region.register(app)
db.register(app)
demo.register(app)
stages.register(app)
discrepancies.register(app)
topics.register(app)
run.register(app)
simulate.register(app)
scan.register(app)
grading.register(app)
server.register(app)
serve.register(app)


def main() -> None:
    # First: whatever the command starts (the ephemeral Prefect server, the stages' process
    # pools) ends with it, even if it is killed with SIGKILL (flows/cli/reaper.py).
    reaper.start_reaper()
    app()
