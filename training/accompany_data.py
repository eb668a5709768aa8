"""Training data and the validation metric of accompaniment runs (`--objective accompany`).

The folder is read by composer.corpus.accompany.scan_arrangements: one
Arrangement (melody, chord labels, voice rows) per usable file; a file
without accompaniment is a skip in the ingestion report, not a failure.

ArrangementSampler: each example is a window of up to `seq_len` steps of a
random training piece, starting on a downbeat, transposed by a random shift
of `transpose` semitones (melody, voices and chord roots together). As with
ChunkSampler, every batch is a pure function of (seed, rank, step), so an
interrupted run resumes exactly.

The validation metric (composer.model.harmonizer_data.harmony_bits) scores
whole held-out pieces: bits per beat selects the best weights, bits per chord
label and per voice note are reported beside it.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from composer.corpus.ingest import Corpus
from composer.errors import ComposerError
from composer.model.harmonizer_data import HarmonyBatch, collate, harmony_bits, transposed, window
from composer.model.modelfile import save_model
from composer.representations.accompany.grid import Arrangement
from training import distributed as D
from training.validation import MIN_IMPROVEMENT, Validation


class ArrangementSampler:
    """Random downbeat-aligned windows of random training pieces (module docstring)."""

    def __init__(self, representation, arrangements: list[Arrangement], *, batch: int, seq_len: int,
                 transpose: tuple[int, int] = (0, 0), seed: int = 0, rank: int = 0):
        config = representation.config
        self.config, self.batch, self.seed, self.rank, self.transpose = config, batch, seed, rank, transpose
        self.n_voices = len(representation.rows)
        self.pieces = [a for a in arrangements if a.steps >= config.steps_per_beat]
        if not self.pieces:
            raise ValueError("no training pieces with a whole beat")
        self.seq_len = max(config.steps_per_beat, seq_len - seq_len % config.steps_per_beat)
        downbeats = [np.flatnonzero(a.step_in_bar[:max(1, a.steps - config.steps_per_beat)] == 0)
                     for a in self.pieces]
        self.starts = [s if len(s) else np.array([0]) for s in downbeats]
        steps = np.array([a.steps for a in self.pieces], dtype=np.float64)
        self.weights = steps / steps.sum()
        self.total_steps = int(steps.sum())
        self.n_tokens = self.total_steps

    @property
    def steps_per_epoch(self) -> int:
        """Steps after which (on average) every step of every piece was in a window once."""
        mean_window = min(self.seq_len, self.total_steps / len(self.pieces))
        return max(1, math.ceil(self.total_steps / (self.batch * mean_window)))

    def batch_at(self, step: int) -> HarmonyBatch:
        rng = np.random.default_rng([self.seed, self.rank, step, 0xACC])
        examples = []
        for i in rng.choice(len(self.pieces), size=self.batch, p=self.weights):
            start = int(rng.choice(self.starts[i]))
            start -= start % self.config.steps_per_beat
            shift = int(rng.integers(self.transpose[0], self.transpose[1] + 1))
            examples.append(self._moved(window(self.pieces[i], start, self.seq_len), shift))
        return collate(examples, self.n_voices)

    def _moved(self, arr: Arrangement, shift: int) -> Arrangement:
        while shift != 0:
            moved = transposed(arr, shift, self.config)
            if moved is not None:
                return moved
            shift -= 1 if shift > 0 else -1
        return arr


def scan_arrangement_corpus(config, representation, info, emit, should_stop) -> Corpus:
    """The arrangements of `config.folder` as a Corpus (name -> Arrangement).
    Raises ComposerError when no file has a melody with accompaniment."""
    from composer.corpus.accompany import require_arrangements, scan_arrangements
    folder = Path(config.folder)
    if not folder.is_dir():
        raise ComposerError(f"{folder}: no such folder")
    emit(phase="scanning", message=f"scanning {folder} for melodies with accompaniment")

    def on_file(p):
        emit(files_done=p.done, files_total=p.total, message=f"scanning {p.message}")

    arrangements, report = None, None
    for turn in ((0,) if not info.enabled else (0, 1)):   # rank 0 fills the cache first
        if (turn == 0) == info.is_main:
            arrangements, report = scan_arrangements(folder, representation.config, cache_dir=config.cache_dir,
                                                     workers=config.workers, strict_midi=config.strict_midi,
                                                     progress=on_file, should_stop=should_stop,
                                                     track=config.track, chords=config.chords)
        D.barrier(info)
    if config.report and info.is_main:
        report.save_json(config.report)
    emit(report=report, message=f"scanned {len(report.files)} file(s)")
    require_arrangements(arrangements, report)
    return Corpus(report=report, sequences={a.name: a for a in arrangements})


class AccompanyValidation(Validation):
    """Validation of a harmoniser: bits per beat on whole held-out pieces, with
    bits per chord label and per voice note kept beside it."""

    def __init__(self, val_pieces: list, **kwargs):
        super().__init__(val_pieces, infill=False, **kwargs)
        self.last_bits = None          # the last evaluation's HarmonyBits
        self.best_bits = None

    def _evaluate(self, model, step: int) -> float | None:
        self.emit(phase="validating")
        bits = harmony_bits(model, self.val_seqs, device=self.device)
        bits = D.all_reduce_harmony(self.info, bits, self.device)
        self.emit(phase="training")
        value = bits.bits_per_beat
        if value is None:
            return None
        self.last_val, self.last_bits = value, bits
        if self.best_val is None or value < self.best_val - MIN_IMPROVEMENT:
            self.best_val, self.best_step, self.bad_evals, self.best_bits = value, step, 0, bits
            if self.info.is_main:
                save_model(self.best_path, model, self.tokenizer, {"step": step, "val_bits_per_note": value})
        else:
            self.bad_evals += 1
        return value

    def scores(self) -> dict:
        out = super().scores()
        out["best_bits"] = list(self.best_bits.as_tuple()) if self.best_bits is not None else None
        return out

    def restore(self, meta: dict) -> None:
        from composer.model.harmonizer_data import HarmonyBits
        super().restore(meta)
        self.best_bits = HarmonyBits(*meta["best_bits"]) if meta.get("best_bits") else None

    def summary_fields(self) -> dict:
        """What the model file's training summary says of the best evaluation."""
        b = self.best_bits
        return {"val_bits_per_chord": b.bits_per_chord if b else None,
                "val_bits_per_voice_note": b.bits_per_voice_note if b else None}


def eval_steps(val_pieces: list) -> int:
    """Held-out steps (for the validation interval, as held-out tokens are for melodies)."""
    return sum(a.steps for a in val_pieces)


def folder_style(arrangements, config) -> dict:
    """What the training folder does that sampling may follow: parallel fifths
    plus octaves per bar (composer.analysis.harmony_stats), mean over pieces."""
    from composer.analysis.harmony_stats import parallels_per_bar
    if not arrangements:
        return {}
    fifths, octaves = parallels_per_bar(arrangements, config)
    return {"parallels_per_bar": round(fifths.mean + octaves.mean, 4)}
