"""Device choice (CUDA > MPS > CPU) and the mixed-precision policy."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from composer.errors import ComposerError


def choose_device(name: str | None = None) -> tuple[torch.device, str]:
    """Pick a device and say why: `name` None/'auto' chooses CUDA, then Apple
    MPS, then CPU; an explicit name that is not available is an error."""
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if name in (None, "", "auto"):
        if cuda:
            return torch.device("cuda"), f"CUDA: {torch.cuda.get_device_name(0)}"
        if mps:
            return torch.device("mps"), "MPS: Apple GPU"
        return torch.device("cpu"), "CPU: no CUDA or MPS device found"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ComposerError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not cuda:
            raise ComposerError(f"device {name!r} requested but no CUDA device is available "
                                "(is this a CPU build of torch? see the README's GPU section)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ComposerError(f"device {name!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
        return device, f"CUDA: {torch.cuda.get_device_name(device.index or 0)} (requested)"
    if device.type == "mps":
        if not mps:
            raise ComposerError(f"device {name!r} requested but MPS is not available")
        return device, "MPS: Apple GPU (requested)"
    if device.type == "cpu":
        return device, "CPU (requested)"
    raise ComposerError(f"unsupported device {name!r}; use auto, cpu, cuda, cuda:N or mps")


@dataclass(frozen=True)
class Precision:
    """How to run training on a device: autocast dtype and whether to scale."""

    enabled: bool
    dtype: torch.dtype = torch.float32
    grad_scaler: bool = False

    def autocast(self, device: torch.device):
        return torch.autocast(device_type=device.type, dtype=self.dtype, enabled=self.enabled)


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), for machine
    descriptions in benchmark results and model cards."""
    import platform
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def precision_for(device: torch.device, *, bf16_supported: bool | None = None) -> Precision:
    """Mixed precision on CUDA only: bfloat16 where the GPU supports it (no
    scaler needed), else float16 with a GradScaler; full float32 elsewhere."""
    if device.type != "cuda":
        return Precision(enabled=False)
    if bf16_supported is None:
        bf16_supported = torch.cuda.is_bf16_supported()
    if bf16_supported:
        return Precision(enabled=True, dtype=torch.bfloat16)
    return Precision(enabled=True, dtype=torch.float16, grad_scaler=True)
