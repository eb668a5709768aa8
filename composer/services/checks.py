"""Checks that every sampling request shares (generate, infill, drums, harmonize)."""
from __future__ import annotations

from composer.errors import ComposerError
from composer.model.sampling import SamplingConfig


class SamplingRequest:
    """What a request with temperature, top_k and top_p fields (generate, infill,
    drums, harmonize) hands the sampler."""

    def sampling(self) -> SamplingConfig:
        return SamplingConfig(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p)


def check_seed_and_sampling(request) -> None:
    """The checks every request with a seed and temperature/top-k/top-p (its
    `sampling()`) shares; raises ComposerError naming the bad value."""
    if request.seed is not None and not 0 <= request.seed < 2**63:
        raise ComposerError(f"seed must be in 0..2**63-1, got {request.seed}")
    try:
        request.sampling()
    except ValueError as exc:
        raise ComposerError(str(exc)) from None
