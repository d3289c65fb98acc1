"""The terminal progress reporter: quiet unless the command line switched it on for a
terminal; then the bars the tasks report into are drawn on that terminal."""

from __future__ import annotations

import io

import pytest

from tasks.progress import bar, terminal_progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_without_a_terminal_do_nothing() -> None:
    shown = bar("Печать", 3, "ОО")
    shown.advance()
    shown(None)
    shown.step("этап")
    shown.close()


def test_a_pipe_gets_no_bar_and_no_control_characters() -> None:
    pipe = io.StringIO()
    with terminal_progress(pipe) as on:
        shown = bar("Печать", 2, "ОО")
        shown.advance(2)
    assert on is False
    assert pipe.getvalue() == ""


def test_a_terminal_gets_the_bar_with_its_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    screen = FakeTerminal()
    with terminal_progress(screen) as on:
        printing = bar("Печать", 3, "ОО")
        for _ in range(3):
            printing.advance()
        steps = bar("Демонстрация", 2, "этапов")
        steps.step("сбор")
        steps.step("выверка")
        steps.close()
    assert on is True
    drawn = screen.getvalue()
    assert "Печать" in drawn
    assert "3/3" in drawn
    assert "Демонстрация" in drawn
    assert "2/2" in drawn
    assert "\x1b[" in drawn
    with terminal_progress(screen):  # the display is gone: a new one can start
        pass
