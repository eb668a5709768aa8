"""The registry of representations: rebuilds a tokenizer from the (kind, config)
a model file stores."""
from __future__ import annotations

from composer.errors import ComposerError
from composer.representations.accompany.grid import AccompanyConfig
from composer.representations.accompany.representation import AccompanyRepresentation
from composer.representations.base import Tokenizer
from composer.representations.drums import DrumsConfig, DrumsTokenizer
from composer.representations.frames import FramesConfig, FramesTokenizer
from composer.representations.melody import MelodyConfig, MelodyTokenizer
from composer.representations.performance import PerformanceConfig, PerformanceTokenizer


def tokenizer_from_config(kind: str, config: dict) -> Tokenizer | AccompanyRepresentation:
    """Rebuild a tokenizer from the (kind, config dict) a model file stores
    (for kind "accompany" the harmoniser's AccompanyRepresentation)."""
    registry = {"melody": (MelodyTokenizer, MelodyConfig),
                "performance": (PerformanceTokenizer, PerformanceConfig),
                "frames": (FramesTokenizer, FramesConfig),
                "drums": (DrumsTokenizer, DrumsConfig),
                "accompany": (AccompanyRepresentation, AccompanyConfig)}   # not a Tokenizer: the harmoniser's
    if kind not in registry:
        raise ComposerError(f"unknown representation {kind!r}; known: {', '.join(registry)}")
    cls, cfg_cls = registry[kind]
    return cls(cfg_cls.from_dict(config))
