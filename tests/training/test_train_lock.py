"""One training per --out: a second `train` on the same output refuses in one
line naming the first one's process (--force or not, in the CLI, under two
processes and in the app's Train tab is tests/test_gui_train.py); a stale lock
is taken over with a note; the lock goes at the end, on errors and on Ctrl-C."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch.multiprocessing as mp

from composer.cli.main import main
from training.run_lock import LOCK_NAME, RunLocked, take_run_lock

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--layers", "1", "--hidden", "8", "--embed", "8", "--batch", "2", "--seq-len", "16", "--workers", "1",
        "--quiet"]



def train_cli(tunes: Path, out: Path, *extra: str, **kwargs) -> subprocess.CompletedProcess | subprocess.Popen:
    args = [sys.executable, "-m", "composer", "train", str(tunes), "--out", str(out), *TINY, *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if kwargs.pop("background", False):
        return subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def refusal(pid: int, out: Path) -> str:
    return f"error: another training (pid {pid}) is writing {out}; wait for it or stop it"


def test_a_second_training_refuses_while_the_lock_is_held(tmp_path, tunes, capsys):
    out = tmp_path / "same.model"
    args = ["train", str(tunes), "--out", str(out), "--steps", "1", *TINY]
    with take_run_lock(str(out) + ".train", out) as lock:      # held by this (live) process
        held = lock.path.read_text()
        for force in ([], ["--force"]):
            assert main([*args, *force]) == 2
            assert capsys.readouterr().err.strip().splitlines() == [refusal(os.getpid(), out)]
            assert not out.exists() and lock.path.read_text() == held
    assert not (tmp_path / "same.model.train").exists()        # the lock made the folder; releasing removed both
    assert main(args) == 0
    assert out.is_file() and not (tmp_path / "same.model.train" / LOCK_NAME).exists()


def test_two_trainings_at_once_and_ctrl_c_releases_the_lock(tmp_path, tunes):
    out = tmp_path / "both.model"
    lock = tmp_path / "both.model.train" / LOCK_NAME
    first = train_cli(tunes, out, "--steps", "1000000", background=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "both.model.train" / "metrics.jsonl").exists():
            assert first.poll() is None and time.monotonic() < deadline, first.stderr.read() if first.stderr else ""
            time.sleep(0.1)
        assert json.loads(lock.read_text()) == {"pid": first.pid, "host": socket.gethostname(), "output": str(out)}
        second = train_cli(tunes, out, "--steps", "1", "--force")
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [refusal(first.pid, out)]
        first.send_signal(signal.SIGINT)            # stop after this step, with a checkpoint
        assert first.wait(timeout=120) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        first.stderr.close()
    assert not lock.exists() and (tmp_path / "both.model.train" / "last.ckpt").is_file()


def gone_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_stale_lock_is_taken_over_with_a_note(tmp_path, tunes):
    out = tmp_path / "stale.model"
    lock = tmp_path / "stale.model.train" / LOCK_NAME
    lock.parent.mkdir()
    pid = gone_pid()
    lock.write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "output": str(out)}))
    result = train_cli(tunes, out, "--steps", "1")
    assert result.returncode == 0, result.stderr
    assert (f"took over the lock of an earlier training of {out} (pid {pid}), which is no longer running"
            in result.stderr.splitlines())
    assert out.is_file() and not lock.exists()


def test_a_lock_from_another_host_is_not_taken_over(tmp_path, tunes, capsys):
    out = tmp_path / "shared.model"
    lock = tmp_path / "shared.model.train" / LOCK_NAME
    lock.parent.mkdir()
    lock.write_text(json.dumps({"pid": 4242, "host": "other-machine"}))
    assert main(["train", str(tunes), "--out", str(out), "--steps", "1", *TINY]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: another training (pid 4242 on other-machine) is writing {out}; wait for it or stop it "
        f"(if it is no longer running, delete {lock})")
    assert lock.exists() and not out.exists()


def test_the_lock_is_released_when_training_fails(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "none.model"
    assert main(["train", str(empty), "--out", str(out), "--steps", "1", *TINY]) == 2
    assert "no usable MIDI files" in capsys.readouterr().err
    assert not (tmp_path / "none.model.train").exists()
    with take_run_lock(tmp_path / "none.model.train", out):     # and it can be taken again
        with pytest.raises(RunLocked, match=f"pid {os.getpid()}"):
            take_run_lock(tmp_path / "none.model.train", out)


def _locked_worker(rank: int, world: int, port: int, config, out_dir: str) -> None:
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    from training.trainer import train
    try:
        train(config)
        outcome = "trained"
    except RunLocked as exc:
        outcome = str(exc)
    Path(out_dir, f"rank{rank}.txt").write_text(outcome)


def test_under_two_processes_every_rank_refuses_without_waiting(tmp_path):
    from tests.training.test_distributed import _free_port, tiny_run
    config = dataclasses.replace(tiny_run(tmp_path, "ddp.model"), force=True)
    with take_run_lock(tmp_path / "ddp.model.train", config.out):
        mp.spawn(_locked_worker, args=(2, _free_port(), config, str(tmp_path)), nprocs=2, join=True)
    expected = f"another training (pid {os.getpid()}) is writing {config.out}; wait for it or stop it"
    assert [(tmp_path / f"rank{r}.txt").read_text() for r in (0, 1)] == [expected, expected]
    assert not (tmp_path / "ddp.model").exists()
