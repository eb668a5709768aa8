"""train() under DistributedDataParallel: 2 CPU processes with gloo end with
identical weights; rank 0 alone writes the model and checkpoints."""
from __future__ import annotations

import dataclasses
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from benchmarks.midi_factory import melody, write_song
from composer.model.modelfile import read_metadata
from training.distributed import DistInfo, dist_info_from_env, shard
from training.trainer import TrainConfig, train


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, config: TrainConfig, out_dir: str) -> None:
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(1)
    final = {}

    def keep(step, model):
        final.update({k: v.detach().clone() for k, v in model.state_dict().items()})

    result = train(config, after_step=keep)
    save_file(final, os.path.join(out_dir, f"rank{rank}.safetensors"))
    with open(os.path.join(out_dir, f"rank{rank}.txt"), "w") as handle:
        handle.write(f"{result.steps} {result.best_val_bits_per_note!r}")


def tiny_run(tmp_path, out: str, **changes) -> TrainConfig:
    """Six code-made tunes and a tiny CPU training config over them."""
    folder = tmp_path / "tunes"
    for i in range(6):
        write_song(melody(40, seed=i), folder / f"t{i}.mid")
    config = TrainConfig(folder=str(folder), out=str(tmp_path / out), layers=1, hidden=16, embed=8,
                         steps=6, batch=2, seq_len=16, eval_every=3, checkpoint_every=3, val_share=0.34,
                         cache_dir=str(tmp_path / "cache"), workers=1, device="cpu")
    return dataclasses.replace(config, **changes)


@pytest.mark.system
def test_two_gloo_processes_end_with_identical_weights(tmp_path):
    config = tiny_run(tmp_path, "ddp.model")
    mp.spawn(_worker, args=(2, _free_port(), config, str(tmp_path)), nprocs=2, join=True)
    a, b = (load_file(tmp_path / f"rank{r}.safetensors") for r in (0, 1))
    assert a.keys() == b.keys() and a
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=0, rtol=0)
    # both ranks saw the same (all-reduced) validation score and step count
    assert (tmp_path / "rank0.txt").read_text() == (tmp_path / "rank1.txt").read_text()
    meta = read_metadata(tmp_path / "ddp.model")
    assert meta["training"]["processes"] == 2 and meta["training"]["steps"] == 6
    assert (tmp_path / "ddp.model.train" / "last.ckpt").exists()


def _compare_worker(rank: int, world: int, port: int, config: TrainConfig, out_dir: str) -> None:
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(1)
    from training.compare import compare_cells
    runs = compare_cells(config, ("lstm", "gru", "rnn"))
    with open(os.path.join(out_dir, f"cells{rank}.txt"), "w") as handle:
        handle.write(" ".join(f"{r.cell}:{r.steps}:{r.val_bits_per_note!r}" for r in runs))


@pytest.mark.system
def test_a_cell_comparison_under_two_processes_runs_every_cell_in_one_process_group(tmp_path):
    """Each cell used to destroy and re-create the process group; with gloo one rank
    could wait in the new group's handshake while the other was still in the old
    group's last barrier (a silent hang in 2 of 5 QA runs). Now the group is made once."""
    config = tiny_run(tmp_path, "c.model", steps=4, eval_every=1, checkpoint_every=2)
    mp.spawn(_compare_worker, args=(2, _free_port(), config, str(tmp_path)), nprocs=2, join=True)
    assert (tmp_path / "cells0.txt").read_text() == (tmp_path / "cells1.txt").read_text()
    assert [w.split(":")[:2] for w in (tmp_path / "cells0.txt").read_text().split()] == [
        ["lstm", "4"], ["gru", "4"], ["rnn", "4"]]
    for cell in ("lstm", "gru", "rnn"):
        assert read_metadata(tmp_path / f"c-{cell}.model")["training"]["processes"] == 2


def test_single_process_without_torchrun_environment():
    assert dist_info_from_env({}) == DistInfo(0, 1, 0)
    info = dist_info_from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    assert info.enabled and not info.is_main
    assert shard(list(range(5)), info) == [1, 3]
    assert shard([7], info) == [7] and shard([7], info, fallback=False) == []
    with pytest.raises(Exception, match="RANK=3"):
        dist_info_from_env({"RANK": "3", "WORLD_SIZE": "2"})
