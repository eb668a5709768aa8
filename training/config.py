"""TrainConfig (everything a training run needs) and the progress/result types
that the CLI's progress bar and the GUI's training tab both read."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from composer.config import ConfigMixin
from composer.tasks import Progress

if TYPE_CHECKING:
    from composer.representations.base import Tokenizer
# the network and the tokenizers import torch: they are imported where they are used,
# so the app can read these settings and show its window before torch is loaded

REPRESENTATIONS = ("melody", "performance", "frames", "drums")   # frames: piano-roll grid (benchmarks/polyphonic.py)
# next token (left to right), infill spans of bars given both sides (melody), or accompany: chords and voices
# under a whole melody (composer.model.harmonizer_network)
OBJECTIVES = ("next", "infill", "accompany")
DEFAULT_EPOCHS = 60          # used when none of steps / epochs / minutes is given (early stopping ends sooner) ...
DEFAULT_MIN_STEPS = 1000     # ... but at least this many steps: 60 epochs of a small folder are a few dozen steps
# semitones; measured on ~900 folk tunes at 4,500 steps (a quiet 10 minutes): -2..2 beats off (docs/training.md)
MELODY_TRANSPOSE = (-2, 2)
DEFAULT_DROPOUT = 0.3


@dataclass(frozen=True)
class TrainConfig(ConfigMixin):
    """One training run. Lengths: `steps` optimizer steps, `epochs` passes over
    the training tokens, `minutes` wall-clock minutes; whichever ends first
    (none given: up to DEFAULT_EPOCHS epochs but at least DEFAULT_MIN_STEPS
    steps, usually ended by early stopping).
    Defaults were chosen by measurement (docs/training.md)."""

    folder: str
    out: str
    representation: str = "melody"
    cell: str = "lstm"
    layers: int = 2
    hidden: int = 256
    embed: int = 128
    dropout: float = DEFAULT_DROPOUT
    tie_weights: bool = False
    position_input: bool = True     # feed the tokenizer's position (step in the bar) to the model
    steps: int | None = None
    epochs: float | None = None
    minutes: float | None = None
    batch: int = 32                 # chunks per optimizer step (per process)
    seq_len: int = 128              # tokens per chunk (docs/defaults.md: 32 x 128 beat 16 x 256)
    batching: str = "chunks"        # "chunks": random windows; "tbptt": streams with the state carried over
    lr: float = 3e-3                # peak learning rate (AdamW)
    warmup_steps: int = 0           # linear warm-up, then the decay of decay_share to lr * min_lr_ratio
    min_lr_ratio: float = 0.05
    decay_share: float = 0.0        # the last share of the run that decays the lr (1: cosine all along, 0: none;
                                    # a decay slowed runs that were still learning: docs/defaults.md)
    weight_decay: float = 0.0
    weight_drop: float = 0.0        # DropConnect on the hidden-to-hidden weights (composer.model.network), 0 = off
    locked_dropout: bool = False    # the same dropout mask at every step of a sequence (composer.model.network)
    lookback: tuple = ()            # melody: bars back whose events are inputs + repeat flags (composer.model.lookback)
    lookback_copy: bool = False     # with lookback: the output may copy those events (composer.model.network)
    ema: float = 0.0                # decay of the weight average used for validation and the model file, 0 = off
    clip: float = 1.0               # gradient norm clipping (0 = off)
    val_share: float = 0.1          # share of FILES held out for validation
    transpose: tuple | None = None  # (low, high) semitones; None: chosen for the folder (training/sizing.py)
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    force: bool = False             # overwrite an existing model file / start over an old checkpoint
    report: str | None = None       # where to write the JSON ingest report
    checkpoint_every: int = 100     # steps
    eval_every: int | None = None   # steps between validation passes; None = auto_eval_every
    log_every: int = 10             # steps between metrics-log lines
    patience: int = 10              # evaluations without improvement before stopping (0 = never)
    cache_dir: str | None = None
    workers: int | None = None
    track: int | str | None = None  # melody policy override (track index or part of its name)
    chords: str = "highest"         # melody policy for chords: "highest" or "lowest"
    checkpoint_dir: str | None = None   # default: OUT + ".train/"
    objective: str = "next"         # "infill": infill_network.InfillRNN on spans (training/infill_data.py)
    infill_bars: tuple = (1, 4)     # infill: span lengths in bars (low, high), drawn uniformly
    infill_context: int = 8         # infill: bars of context the model reads on each side of a span
    init_from: str | None = None    # infill: start the forward part from this left-to-right model file
    infill_attention: bool = False  # infill: each span step also attends over the right context
    accompany_voices: tuple = ("bass",)   # accompany: the parts predicted under the melody (grid.VOICE_NAMES)
    accompany_chords: bool = True   # accompany: predict a chord label per beat
    copy_index: bool = True         # store the training notes' copy index in the model file (the copy meter)
    strict_midi: bool = False       # skip damaged MIDI files instead of reading them up to the damage
    private: bool = False           # the model file names no folder or file (no copy index either): training/scrub.py

    def __post_init__(self):
        if self.representation not in REPRESENTATIONS:
            raise ValueError(f"representation must be one of {', '.join(REPRESENTATIONS)}, got {self.representation!r}")
        for name in ("layers", "hidden", "embed", "batch", "checkpoint_every", "eval_every", "log_every"):
            if name == "eval_every" and self.eval_every is None:
                continue
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.seq_len < 2:
            raise ValueError(f"seq_len must be >= 2 tokens, got {self.seq_len}")
        for name in ("steps", "epochs", "minutes"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if not 0 <= self.decay_share <= 1:
            raise ValueError(f"decay_share must be in [0, 1], got {self.decay_share}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 <= self.weight_drop < 1:
            raise ValueError(f"weight_drop must be in [0, 1), got {self.weight_drop}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1) (a decay per step, e.g. 0.999; 0 = off), got {self.ema}")
        if not 0 <= self.val_share < 1:
            raise ValueError(f"val_share must be in [0, 1), got {self.val_share}")
        if self.warmup_steps < 0 or self.patience < 0 or self.clip < 0:
            raise ValueError("warmup_steps, patience and clip must be >= 0")
        if self.transpose is not None:
            low, high = self.transpose
            if not -24 <= low <= 0 <= high <= 24:
                raise ValueError(f"transpose must be (low, high) semitones with -24 <= low <= 0 <= high <= 24, "
                                 f"got {self.transpose}")
        if self.batching not in ("chunks", "tbptt"):
            raise ValueError(f"batching must be 'chunks' or 'tbptt', got {self.batching!r}")
        if self.chords not in ("highest", "lowest"):
            raise ValueError(f"chords must be 'highest' or 'lowest', got {self.chords!r}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        if self.init_from is not None and self.objective != "infill":
            raise ValueError("init_from is for infill runs (it starts an infill model from a plain model)")
        if self.lookback or self.lookback_copy:
            from composer.model.network import check_lookback
            check_lookback(tuple(self.lookback))
            if self.lookback_copy and not self.lookback:
                raise ValueError("lookback_copy needs lookback distances")
            if self.representation != "melody" or self.objective != "next":
                raise ValueError("lookback inputs are for left-to-right melody models (representation melody, "
                                 f"objective next), got {self.representation!r}, {self.objective!r}")
        if self.objective == "accompany":
            self._check_accompany()
        if self.objective == "infill":
            self._check_infill()

    def _check_infill(self) -> None:
        if self.representation != "melody":
            raise ValueError(f"objective infill needs the melody representation, got {self.representation!r}")
        if self.batching != "chunks":
            raise ValueError("objective infill draws its own spans; batching must be 'chunks'")
        if self.weight_drop or self.locked_dropout:
            raise ValueError("weight_drop and locked_dropout are options of the left-to-right model, "
                             "not of objective infill")
        low, high = self.infill_bars
        if not 1 <= low <= high <= 64:
            raise ValueError(f"infill_bars must be (low, high) with 1 <= low <= high <= 64, got {self.infill_bars}")
        if self.infill_context < 1:
            raise ValueError(f"infill_context must be >= 1 bar, got {self.infill_context}")

    def _check_accompany(self) -> None:
        if self.representation != "melody" or self.batching != "chunks" or self.lookback:
            raise ValueError("objective accompany reads melodies and draws its own windows: representation "
                             "melody, batching chunks, no lookback")
        if self.weight_drop or self.locked_dropout:
            raise ValueError("weight_drop and locked_dropout are options of the left-to-right model, "
                             "not of objective accompany")
        config = self.accompany_config()          # names a bad voice
        if "chords" in config.voices and not config.chords:
            raise ValueError("the chords part needs chord labels (accompany_chords)")
        if not config.chords and not config.voices:
            raise ValueError("an accompaniment model predicts chord labels or at least one voice")

    def accompany_config(self):
        """The AccompanyConfig of an accompaniment run."""
        from composer.representations.accompany.grid import AccompanyConfig
        return AccompanyConfig(voices=tuple(self.accompany_voices), chords=self.accompany_chords)

    @property
    def transpose_range(self) -> tuple[int, int]:
        if self.transpose is not None:
            return (int(self.transpose[0]), int(self.transpose[1]))
        return MELODY_TRANSPOSE if self.representation == "melody" else (0, 0)

    @property
    def checkpoint_path(self) -> Path:
        return Path(self.checkpoint_dir) if self.checkpoint_dir else Path(str(self.out) + ".train")

    def eval_interval(self, val_tokens: int, world_size: int = 1) -> int:
        """Steps between validation passes: `eval_every`, or `auto_eval_every`
        for `val_tokens` held-out tokens and this batch shape."""
        return self.eval_every or auto_eval_every(val_tokens, self.batch * self.seq_len * world_size)

    def make_tokenizer(self) -> Tokenizer:
        if self.objective == "accompany":       # (not a Tokenizer: what the harmoniser's files store)
            from composer.representations.accompany.representation import AccompanyRepresentation
            return AccompanyRepresentation(self.accompany_config())
        if self.representation == "melody":
            from composer.representations.melody import MelodyConfig, MelodyTokenizer
            return MelodyTokenizer(MelodyConfig(track=self.track, chords=self.chords))
        if self.representation == "frames":
            from composer.representations.frames import FramesConfig, FramesTokenizer
            # a beat clock (frame number within the beat) rather than a bar clock: a piece
            # that starts on an upbeat keeps its beats in place, its bar lines would not be
            return FramesTokenizer(FramesConfig(frame_cycle=FramesConfig.steps_per_quarter))
        if self.representation == "drums":
            from composer.representations.drums import DrumsTokenizer
            return DrumsTokenizer()
        from composer.representations.performance import PerformanceTokenizer
        return PerformanceTokenizer()


def model_config(config: TrainConfig, tokenizer: Tokenizer | None = None):
    """The network config (composer.model.network.ModelConfig, or InfillConfig for
    objective infill) that the settings of `config` make with `tokenizer`
    (default: config.make_tokenizer()): the one place settings become a model."""
    from composer.model.infill_network import InfillConfig
    from composer.model.network import ModelConfig
    c, tok = config, tokenizer or config.make_tokenizer()
    if c.objective == "accompany":
        from composer.model.harmonizer_network import HarmonizerConfig
        acc = tok.config
        return HarmonizerConfig(
            vocab_size=tok.vocab_size, voices=len(tok.rows), chords=acc.chords, steps_per_beat=acc.steps_per_beat,
            cell=c.cell, embed_dim=c.embed, hidden_size=c.hidden, num_layers=c.layers, dropout=c.dropout,
            position_classes=16 * acc.steps_per_beat if c.position_input else 0)
    positions = tok.position_classes if c.position_input else 0
    if c.objective == "infill":
        return InfillConfig(
            vocab_size=tok.vocab_size, cell=c.cell, embed_dim=c.embed, hidden_size=c.hidden,
            num_layers=c.layers, dropout=c.dropout, position_classes=positions,
            remaining_classes=2 * c.infill_context + c.infill_bars[1] + 1, context_bars=c.infill_context,
            attention=c.infill_attention)
    return ModelConfig(
        vocab_size=tok.vocab_size, cell=c.cell, embed_dim=c.embed, hidden_size=c.hidden,
        num_layers=c.layers, dropout=c.dropout, tie_weights=c.tie_weights, position_classes=positions,
        weight_drop=c.weight_drop, locked_dropout=c.locked_dropout,
        lookback=tuple(c.lookback), lookback_copy=c.lookback_copy)


def parameter_count(config: TrainConfig) -> int:
    """Parameters of the model `config` trains (built on the meta device: no memory used)."""
    import torch

    from composer.model.harmonizer_network import HarmonizerRNN
    from composer.model.infill_network import InfillRNN
    from composer.model.network import MusicRNN
    net_config = model_config(config)
    model_class = {"infill": InfillRNN, "accompany": HarmonizerRNN}.get(config.objective, MusicRNN)
    with torch.device("meta"):
        return model_class(net_config).num_parameters()


@dataclass(frozen=True)
class TrainProgress:
    """What a training run reports, as the `info` of each composer.tasks.Progress
    (`as_progress`); immutable, so a front end may keep it. Times in seconds."""

    step: int = 0
    total_steps: int | None = None
    epoch: float = 0.0
    train_loss: float | None = None          # nats per token, mean since the last log line
    val_bits_per_note: float | None = None   # latest evaluation
    best_val_bits_per_note: float | None = None
    tokens_per_s: float = 0.0
    eta_s: float | None = None
    elapsed_s: float = 0.0
    device: str = ""
    device_reason: str = ""
    phase: str = "scanning"                  # scanning | training | validating | done
    message: str = ""
    files_done: int = 0                      # while scanning
    files_total: int = 0
    report: object = None                    # the IngestReport, once the folder is scanned
    cell: str = ""                           # the run's recurrent cell (tells the runs of a comparison apart)
    design: str = ""                         # in a --compare-form comparison: the run's design
    chosen: tuple = ()                       # settings chosen for the folder, and why (training/sizing.py)

    def as_progress(self) -> Progress:
        """Stage "scanning" (unit file) until the folder is read, then "training" (unit step;
        validating is a phase of it, in `phase`)."""
        if self.phase == "scanning":
            return Progress(self.files_done, self.files_total or None, "file", "scanning", self.message, info=self)
        return Progress(self.step, self.total_steps, "step", "training", self.message, info=self)


@dataclass
class TrainResult:
    model_path: Path | None
    best_val_bits_per_note: float | None
    steps: int
    # "steps", "epochs", "minutes", "early stopping", "cancelled", "non-finite loss ..."
    stopped_reason: str
    report: object                           # composer.corpus.ingest.IngestReport
    metrics_path: Path | None
    checkpoint_dir: Path | None
    summary: dict = field(default_factory=dict)   # the training summary stored in the model file


MIN_EVAL_EVERY = 50         # auto: validate at least this many steps apart
VALIDATION_SHARE = 0.05     # auto: about this share of the time in validation passes


def auto_eval_every(val_tokens: int, tokens_per_step: int) -> int:
    """Steps between validation passes when `eval_every` is None: 50, or more
    for a large validation set, so that a pass costs about VALIDATION_SHARE of
    the time. A pass is forward only, about a third of a training step's work
    per token; so with V validation tokens and T training tokens per step the
    share is (V/3) / (V/3 + steps * T). Rounded up to a multiple of 10. With a
    fixed 50, validation took 6-7 % of training on the 899 folk tunes (90
    held out), and would take ~40 % on a folder of 5,000."""
    if tokens_per_step < 1:
        raise ValueError(f"tokens_per_step must be >= 1, got {tokens_per_step}")
    pass_cost = val_tokens / 3.0
    steps = pass_cost * (1.0 - VALIDATION_SHARE) / VALIDATION_SHARE / tokens_per_step
    return max(MIN_EVAL_EVERY, 10 * math.ceil(steps / 10))
