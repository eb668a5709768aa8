"""Optimisation policies of the trainer: learning-rate schedule, mixed
precision, and what to say when the device runs out of memory."""
from __future__ import annotations

import math

import torch

from composer.model.device import precision_for


def oom_message(batch: int, seq_len: int, device: torch.device | str) -> str:
    """What to tell the user when the device runs out of memory."""
    smaller = max(1, batch // 2)
    return (f"out of memory on {device} with batch size {batch} (x {seq_len} tokens); "
            f"try a smaller batch, e.g. --batch {smaller}, or a smaller --seq-len or --hidden")


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


WARMUP_BUDGET_SHARE = 0.05     # a run with a time budget warms up for at most this share of it


def lr_factor(step: int, *, warmup_steps: int, fraction_done: float, min_ratio: float,
              warmup_time: float = 0.0, decay_share: float = 1.0) -> float:
    """Learning-rate multiplier: linear warm-up over `warmup_steps`, then 1 until
    the last `decay_share` of the run, which decays it (cosine) to `min_ratio`,
    as `fraction_done` (0..1 of the run's steps or minutes, whichever is further
    along) goes to 1; decay_share 1 is a cosine over the whole run, 0 no decay.
    `warmup_time` is how far the warm-up is by the clock (elapsed /
    (WARMUP_BUDGET_SHARE x budget)): on a slow or busy machine, 100 warm-up steps
    can be most of a short budget."""
    if warmup_steps and step < warmup_steps and warmup_time < 1.0:
        return max((step + 1) / warmup_steps, warmup_time)
    if decay_share <= 0.0:
        return 1.0
    p = min(max((fraction_done - (1.0 - decay_share)) / decay_share, 0.0), 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * p))


def amp_setup(device: torch.device, *, bf16_supported: bool | None = None):
    """(Precision, GradScaler or None) for `device`: bf16 autocast on CUDA
    GPUs that support it, fp16 + GradScaler on older ones, off on CPU/MPS."""
    precision = precision_for(device, bf16_supported=bf16_supported) if device.type == "cuda" \
        else precision_for(device)
    scaler = torch.amp.GradScaler(device.type) if precision.grad_scaler else None
    return precision, scaler
