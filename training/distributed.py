"""Running the same `train()` under `torchrun` (DistributedDataParallel).

`torchrun` sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT;
when WORLD_SIZE > 1 the trainer joins the process group (NCCL on GPUs, gloo on
CPU), trains on its shard of the files, and only rank 0 writes files.
"""
from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from composer.analysis.likelihood import BitsPerNote
from composer.errors import ComposerError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def dist_info_from_env(env=None) -> DistInfo:
    """Rank and world size from torchrun's environment (1 process without it)."""
    env = os.environ if env is None else env
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise ComposerError(f"bad torchrun environment: {exc}") from None
    if world < 1 or not 0 <= rank < world:
        raise ComposerError(f"bad torchrun environment: RANK={rank} WORLD_SIZE={world}")
    return DistInfo(rank=rank, world_size=world, local_rank=local)


def backend_for(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def setup(info: DistInfo, device: torch.device) -> bool:
    """Join the process group if this is a multi-process run and nobody has
    yet. Returns True when this call created the group (and must destroy it)."""
    if not info.enabled or dist.is_initialized():
        return False
    dist.init_process_group(backend=backend_for(device), rank=info.rank, world_size=info.world_size)
    return True


def teardown(created: bool) -> None:
    """Leave the process group this process created: after every process has
    reached this point (a barrier), and once the DDP wrappers that used it are
    gone (gc), so no process is left in a collective of a destroyed group."""
    if created and dist.is_initialized():
        dist.barrier()
        gc.collect()
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def broadcast_text(info: DistInfo, text: str | None) -> str | None:
    """Rank 0's `text` on every process (e.g. why rank 0 refuses to start, so
    that every rank stops at the same point instead of waiting for it)."""
    if not info.enabled:
        return text
    box = [text]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def sync_max(info: DistInfo, values: list[float], device: torch.device) -> list[float]:
    """Element-wise maximum over all processes: stop flags (as 0/1) become an
    OR and elapsed time the slowest rank's, so every rank takes the same
    decisions at the same step."""
    if not info.enabled:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.tolist()


def all_reduce_metric(info: DistInfo, metric: BitsPerNote, device: torch.device) -> BitsPerNote:
    """Sum a validation metric over the shards of every process."""
    if not info.enabled:
        return metric
    t = torch.tensor([metric.nll_bits, metric.notes, metric.tokens, metric.files], dtype=torch.float64,
                     device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    nll, notes, tokens, files = t.tolist()
    return BitsPerNote(nll_bits=nll, notes=int(round(notes)), tokens=int(round(tokens)), files=int(round(files)))


def mean_scalar(info: DistInfo, value: float, device: torch.device) -> float:
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t.item()) / info.world_size


def shard(items: list, info: DistInfo, *, fallback: bool = True) -> list:
    """This process's share of `items`: every item goes to exactly one rank.
    With `fallback`, a rank left with nothing (fewer items than processes)
    gets the first item, so it can still train."""
    if not info.enabled:
        return list(items)
    mine = list(items[info.rank::info.world_size])
    return mine or (list(items[:1]) if fallback else [])


def all_reduce_harmony(info: DistInfo, bits, device: torch.device):
    """Sum a harmoniser's validation bits (composer.model.harmonizer_data.HarmonyBits) over every process."""
    if not info.enabled:
        return bits
    t = torch.tensor(bits.as_tuple(), dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    chord, beats, voice, notes, steps, pieces = t.tolist()
    return type(bits)(chord, int(round(beats)), voice, int(round(notes)), int(round(steps)), int(round(pieces)))
