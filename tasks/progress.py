"""Progress of long work: a Prefect progress artifact that counts finished units of work
(schools, batches), and — when the command line switched it on for a terminal — bars on stderr.

The terminal side is one process-global reporter: `rcoi` opens it with `terminal_progress()`
around a run when stderr is a terminal; tasks report into it with `bar(...)` (or through
`progress_counter`, which does both). Without it every bar is a no-op, so flows run by tests,
by a worker or with stderr piped print nothing of it. Pool workers never report: the parent
advances a bar as their results come back."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

__all__ = ["Bar", "bar", "progress_counter", "terminal_progress"]


class _Terminal:
    """rich's progress display on one terminal stream, started with its first bar. While it
    draws, Prefect's console log lines are written through it (above the bars)."""

    def __init__(self, stream: IO[str]) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.stream = stream
        self.console = Console(file=stream)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=self.console,
            redirect_stdout=False,  # the command's own output (JSON) stays on stdout
            redirect_stderr=True,
        )
        self._lock = threading.Lock()
        self._started = False
        self._consoles: list[tuple[Any, Any]] = []

    def add(self, label: str, total: int, unit: str) -> Any:
        with self._lock:
            if not self._started:
                self.progress.start()
                self._started = True
                self._route_console_logs()
        return self.progress.add_task(label, total=max(total, 0), unit=unit)

    def _route_console_logs(self) -> None:
        """Prefect's console handlers print to the stream itself, across the bars; while
        the bars are drawn they print through the display instead, above the bars."""
        import logging

        loggers = [logging.getLogger()] + [
            lg
            for lg in logging.Logger.manager.loggerDict.values()
            if isinstance(lg, logging.Logger)
        ]
        for lg in loggers:
            for handler in lg.handlers:
                console = getattr(handler, "console", None)
                if console is None or isinstance(console, _AboveTheBars):
                    continue
                if getattr(console, "file", None) is not self.stream:
                    continue
                self._consoles.append((handler, console))
                handler.console = _AboveTheBars(console, self.console)  # type: ignore[attr-defined]

    def stop(self) -> None:
        with self._lock:
            if not self._started:
                return
            self.progress.stop()
            self._started = False
            for handler, console in self._consoles:
                handler.console = console
            self._consoles.clear()


class _AboveTheBars:
    """Stands in for a log handler's rich console while bars are drawn: the line is rendered
    by the handler's own console (its colours and markup rules) and printed by the display's."""

    def __init__(self, own: Any, display: Any) -> None:
        self._own, self._display = own, display

    def print(self, message: Any, **options: Any) -> None:
        from rich.text import Text

        with self._own.capture() as captured:
            self._own.print(message, **options)
        self._display.print(Text.from_ansi(captured.get().rstrip("\n")), soft_wrap=True)


_terminal: _Terminal | None = None


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):
        return False


@contextmanager
def terminal_progress(stream: IO[str] | None = None) -> Iterator[bool]:
    """Bars on `stream` (stderr) while the block runs when it is a terminal; quiet (no bar,
    no control characters) otherwise. Yields whether bars are shown. Nested: the outer wins."""
    global _terminal
    target = stream or sys.stderr
    if _terminal is not None or not _is_terminal(target):
        yield _terminal is not None
        return
    terminal = _terminal = _Terminal(target)
    try:
        yield True
    finally:
        _terminal = None
        terminal.stop()


class Bar:
    """One counted piece of work on the terminal (a no-op without one). Call it, or call
    `advance`, per finished unit; it completes by itself at `total`. `step(name)` makes it a
    list of named steps: the previous one is counted done and the bar names the current."""

    def __init__(self, terminal: _Terminal | None, label: str, total: int, unit: str) -> None:
        self._terminal = terminal
        self._label = label
        self._total = total
        self._done = 0
        self._stepped = False
        self._task: Any = terminal.add(label, total, unit) if terminal is not None else None

    def advance(self, units: int = 1) -> None:
        self._done += units
        if self._terminal is not None:
            self._terminal.progress.update(self._task, completed=min(self._done, self._total))

    def __call__(self, _: Any = None) -> None:
        self.advance()

    def step(self, name: str) -> None:
        if self._stepped:
            self.advance()
        self._stepped = True
        if self._terminal is not None:
            self._terminal.progress.update(self._task, description=f"{self._label}: {name}")

    def close(self) -> None:
        """All done (for a list of steps: the last one too)."""
        self._done = self._total
        if self._terminal is not None:
            self._terminal.progress.update(
                self._task, completed=self._total, description=self._label
            )


def bar(label: str, total: int, unit: str = "") -> Bar:
    """A bar of `total` units named `label` (e.g. «Печать», 120, «ОО») on the terminal the
    command line switched on; a no-op bar when there is none."""
    return Bar(_terminal, label, total, unit)


def progress_counter(key: str, description: str, total: int) -> Callable[[Any], None]:
    """Create the artifact at 0 % and return a callback that adds one finished unit; the same
    count is drawn as a terminal bar named by the description's head («Печать: …»)."""
    from uuid import UUID

    from prefect.artifacts import create_progress_artifact, update_progress_artifact

    artifact = create_progress_artifact(0.0, key=key, description=description)
    assert isinstance(artifact, UUID)  # called from a task, which runs synchronously
    shown = bar(description.split(":")[0], total)
    finished = 0

    def advance(_: Any) -> None:
        nonlocal finished
        finished += 1
        update_progress_artifact(artifact, 100.0 * finished / max(total, 1))
        shown.advance()

    return advance
