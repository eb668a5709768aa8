"""Progress written to a file or pipe: summary lines whose number grows with
the (fake) time of a run, not with its steps; the bar stays on a terminal."""
from __future__ import annotations

import io
import re

import pytest

from benchmarks.midi_factory import melody, write_song
from composer.cli import progress as progress_module
from composer.cli.main import main
from composer.cli.progress import LOG_EVERY_S, MARK_GAP_S, LogLines, TerminalProgress
from composer.tasks import Progress


class FakeClock:
    """Seconds that advance by `tick` at every reading: a run's time without sleeping."""

    def __init__(self, tick: float):
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def test_lines_follow_the_clock_not_the_updates():
    out, clock = io.StringIO(), FakeClock(0.01)
    lines = LogLines(out, clock=clock)
    for step in range(10_001):                  # 100 s of fake time
        lines(Progress(step, 10_000, "step", "training"))
    lines.close()
    written = out.getvalue().splitlines()
    assert len(written) <= 100 / LOG_EVERY_S + 2
    assert written[0].startswith("training 0/10000 step") and written[-1].startswith("training 10000/10000 step")


def test_a_mark_is_written_at_once_but_not_more_often_than_the_gap():
    out, clock = io.StringIO(), FakeClock(0.5)
    lines = LogLines(out, clock=clock, mark=lambda p: p.message)
    lines(Progress(0, None, "step", "training"))
    for step in range(1, 41):                   # a new mark at every update: 20 s
        lines(Progress(step, None, "step", "training", message=f"val {step}"))
    assert len(out.getvalue().splitlines()) <= 1 + 20 / MARK_GAP_S + 1


def test_a_new_stage_writes_the_last_state_of_the_one_before():
    out = io.StringIO()
    lines = LogLines(out, clock=FakeClock(0.001))
    for done in range(1, 51):
        lines(Progress(done, 50, "file", "scanning"))
    lines(Progress(0, 10, "step", "training"))
    assert [line.split(",")[0].rsplit(" ", 1)[0] for line in out.getvalue().splitlines()] == [
        "scanning 1/50 file (2%)", "scanning 50/50 file (100%)", "training 0/10 step (0%)"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_keeps_the_bar():
    bar = TerminalProgress(stream=Terminal())
    assert bar.lines is None
    assert TerminalProgress(stream=io.StringIO()).lines is not None


def progress_lines(err: str) -> list[str]:
    return [part for part in re.split(r"[\r\n]", err) if part.startswith("training")]


@pytest.mark.parametrize(("steps", "tick"), [(60, 0.05), (240, 0.0125)])
def test_train_to_a_pipe_writes_lines_by_time_not_by_steps(tmp_path, capsys, monkeypatch, steps, tick):
    """The same fake duration (3 s per 60 steps) for 60 or 240 steps: about the same lines."""
    folder = tmp_path / "tunes"
    for i in range(3):
        write_song(melody(24, seed=i), folder / f"t{i}.mid")
    clock = FakeClock(tick)
    monkeypatch.setattr(progress_module, "CLOCK", clock)
    assert main(["train", str(folder), "--out", str(tmp_path / "m.model"), "--steps", str(steps),
                 "--layers", "1", "--hidden", "8", "--embed", "4", "--batch", "2", "--seq-len", "8",
                 "--eval-every", "20", "--patience", "0", "--checkpoint-every", "1000", "--workers", "1",
                 "--no-copy-index", "--cache-dir", str(tmp_path / "cache")]) == 0
    lines = progress_lines(capsys.readouterr().err)
    assert lines and lines[-1].startswith(f"training {steps}/{steps} step")
    # the first line of each stage, then one per LOG_EVERY_S, or per MARK_GAP_S for a new validation score
    assert len(lines) <= 3 + clock.now / MARK_GAP_S
    assert len(lines) < steps / 4
