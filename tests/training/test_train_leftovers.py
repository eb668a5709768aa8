"""Temporary files of checkpoint writes killed by SIGKILL (issue 21): the next
`train` of that --out removes them once it holds the run lock, and only files
named as the atomic writer names its own; a run refused by the lock leaves
them alone."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from composer.cli.main import main
from training.run_lock import take_run_lock

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--layers", "1", "--hidden", "8", "--embed", "8", "--batch", "2", "--seq-len", "16", "--workers", "1",
        "--quiet", "--steps", "1"]
# write_atomic of PATH killed just before its rename: what SIGKILL mid-write leaves behind
KILLED_WRITE = """
import os, signal, sys
from composer.music.midifile import write_atomic
os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
write_atomic(sys.argv[1], b"x" * 100_000, force=True)
"""



def killed_write(path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(path)], cwd=ROOT, capture_output=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120, check=False)
    assert proc.returncode == -9, proc.stderr


def test_leftovers_of_killed_writes_are_removed_by_the_next_run(tmp_path, tunes, capsys):
    out = tmp_path / "tune.model"
    ckpt = tmp_path / "tune.model.train"
    ckpt.mkdir()
    killed_write(ckpt / "last.ckpt")
    killed_write(ckpt / "best.model")
    leftovers = sorted(p.name for p in ckpt.iterdir())
    assert len(leftovers) == 2 and all(n.startswith((".last.ckpt.", ".best.model.")) for n in leftovers)
    others = [ckpt / ".last.ckpt.tmp", ckpt / "notes.tmp", ckpt / ".best.model.ABCDEFGH.tmp",
              ckpt / ".other.model.abcdefgh.tmp"]
    for path in others:
        path.write_bytes(b"not ours")
    (ckpt / ".last.ckpt.abcdefgh.tmp").symlink_to(tmp_path / "elsewhere")     # not a regular file: kept

    with take_run_lock(ckpt, out):                 # another run holds the output: nothing is touched
        assert main(["train", str(tunes), "--out", str(out), *TINY]) == 2
    assert sorted(p.name for p in ckpt.iterdir() if p.name in leftovers) == leftovers

    assert main(["train", str(tunes), "--out", str(out), *TINY]) == 0
    names = {p.name for p in ckpt.iterdir()}
    assert not names & set(leftovers)
    assert {p.name for p in others} | {".last.ckpt.abcdefgh.tmp"} <= names
