"""Training killed with SIGKILL in the middle of writing a checkpoint: the
previous checkpoint still loads, the half-written temp file is never taken for
a checkpoint, and --resume finishes with the same weights as a run that was
never interrupted."""
from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys

import pytest
import torch

from benchmarks.midi_factory import melody, write_song
from training.checkpoint import load_checkpoint
from training.trainer import TrainConfig, train

# The child trains; on the 2nd checkpoint write it truncates the temp file to
# half (what reached the disk) and kills itself before the rename.
CHILD = r"""
import json, os, signal, sys
from training.trainer import TrainConfig, train
config = TrainConfig.from_dict(json.loads(sys.argv[1]))
real_fsync, writes = os.fsync, []

def fsync(fd):
    target = os.readlink(f"/proc/self/fd/{fd}")
    if "last.ckpt" in target and target.endswith(".tmp"):
        writes.append(target)
        if len(writes) == 2:
            os.ftruncate(fd, os.fstat(fd).st_size // 2)
            os.kill(os.getpid(), signal.SIGKILL)
    return real_fsync(fd)

os.fsync = fsync
train(config)
"""


@pytest.mark.system
def test_sigkill_while_writing_a_checkpoint(tmp_path):
    folder = tmp_path / "tunes"
    for i in range(6):
        write_song(melody(40, seed=i), folder / f"tune{i}.mid")
    config = TrainConfig(folder=str(folder), out=str(tmp_path / "killed.model"), layers=1, hidden=24, embed=12,
                         steps=12, batch=4, seq_len=24, warmup_steps=3, eval_every=4, checkpoint_every=4,
                         log_every=2, cache_dir=str(tmp_path / "cache"), workers=1, val_share=0.2)
    child = subprocess.run([sys.executable, "-c", CHILD, json.dumps(config.to_dict())], capture_output=True,
                           text=True, timeout=600)
    assert child.returncode == -signal.SIGKILL, child.stderr
    ckpt_dir = config.checkpoint_path
    leftovers = [p for p in ckpt_dir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers, "the kill should have left the half-written temp file behind"
    survivor = load_checkpoint(ckpt_dir / "last.ckpt")
    assert survivor.meta["step"] == 4                      # the first checkpoint, intact
    assert not (tmp_path / "killed.model").exists()

    resumed = train(dataclasses.replace(config, resume=True))
    assert resumed.steps == 12 and resumed.model_path.exists()
    straight = train(dataclasses.replace(config, out=str(tmp_path / "straight.model")))
    a = load_checkpoint(straight.checkpoint_dir / "last.ckpt").model_state
    b = load_checkpoint(resumed.checkpoint_dir / "last.ckpt").model_state
    for name, tensor in a.items():
        torch.testing.assert_close(b[name], tensor, atol=0, rtol=0)
