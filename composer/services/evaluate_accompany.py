"""`composer eval MODEL FOLDER` for an accompaniment model.

  likelihood  the model's exact held-out bits per chord label and per voice
              note (composer.model.harmonizer_data.harmony_bits), beside the
              chord baselines (composer.analysis.harmony_baselines: the most
              frequent chord for the beat's melody note, a chord bigram) fitted
              on the model's training split
  harmony     the held-out melodies harmonised by the model (one version
              each), measured as the folder's own arrangements of the same
              melodies are (composer.analysis.harmony_stats): the share of
              strong-beat melody notes on chord tones, parallel fifths and
              octaves and voice crossings per bar

Held out: the files of FOLDER not in the model's training split when its
training folder is on this machine (matched by content), else half of FOLDER
(the other half fits the baselines).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from composer.errors import ComposerError
from composer.services.evaluate import EvalConfig, finite_or_none, fmt_number, skipped_line, skipped_report
from composer.tasks import ProgressFn, ShouldStop, notify, relabel


def is_accompany_model(path) -> bool:
    """True when the model file at `path` is an accompaniment model (read from its
    header); False for anything else, a file that is not a model file included
    (loading it says what is wrong)."""
    from composer.errors import ModelFileError
    from composer.model.modelfile import read_metadata
    try:
        return read_metadata(path).get("representation", {}).get("kind") == "accompany"
    except ModelFileError:
        return False


@dataclass
class AccompanyEvalResult:
    model: str
    folder: str
    voices: tuple
    likelihood: dict = field(default_factory=dict)   # {"model": {...}, "baselines": {name: bits per chord label}}
    split: dict = field(default_factory=dict)
    harmony: dict = field(default_factory=dict)      # {"generated": stats, "folder": stats} of the same melodies
    generation: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return finite_or_none(dict(self.__dict__))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, allow_nan=False)

    def table_lines(self) -> list[str]:
        m, base = self.likelihood["model"], self.likelihood["baselines"]
        lines = [f"{'held-out bits':<34}{'per chord label':>16}{'per voice note':>16}",
                 f"{'this model':<34}{fmt_number(m['bits_per_chord']):>16}{fmt_number(m['bits_per_voice_note']):>16}"]
        lines += [f"{BASELINES.get(name, name):<34}{fmt_number(bits):>16}{'-':>16}" for name, bits in base.items()]
        lines.append(f"evaluated on: {self.split.get('description', '')} ({m['chord_labels']} chord labels, "
                     f"{m['voice_notes']} voice notes)")
        if self.skipped.get("count"):
            lines.append(skipped_line(self.skipped))
        gen, ref = self.harmony.get("generated", {}), self.harmony.get("folder", {})
        lines.append(f"{'harmony of the same melodies':<34}{'generated':>16}{'folder':>16}")
        for name in HARMONY_NAMES:
            lines.append(f"{name:<34}{_stat(gen.get(name)):>16}{_stat(ref.get(name)):>16}")
        return lines


BASELINES = {"melody_note": "chord for the melody note", "bigram": "chord bigram", "uniform": "uniform"}
HARMONY_NAMES = ("chord tones on strong beats", "parallel fifths per bar", "parallel octaves per bar",
                 "voice crossings per bar")


def _stat(value) -> str:
    if isinstance(value, dict):          # per bar: mean +- SD
        return f"{fmt_number(value['mean'])} ±{fmt_number(value['sd'])}"
    return "-" if value is None or not math.isfinite(value) else f"{100 * value:.1f}%"


def harmony_stats(arrangements, config) -> dict:
    """The measurements of `arrangements` the table compares (composer.analysis.harmony_stats)."""
    from composer.analysis import harmony_stats as hs
    if not arrangements:
        return {}
    fifths, octaves = hs.parallels_per_bar(arrangements, config)
    return {"chord tones on strong beats": hs.chord_tone_share(arrangements, config),
            "parallel fifths per bar": fifths.to_dict(), "parallel octaves per bar": octaves.to_dict(),
            "voice crossings per bar": hs.crossings_per_bar(arrangements, config).to_dict()}


def _split(loaded, scanned: dict, config: EvalConfig, scan) -> tuple[list, list, str]:
    """(held-out arrangements, arrangements that fit the baselines, description)."""

    from composer.analysis.copymeter import training_folder
    from composer.corpus.split import split_files
    arrs, report = scanned["arrangements"], scanned["report"]
    folder = training_folder(loaded)
    if folder and Path(folder).is_dir():
        train_arrs, train_report = scan(folder, "training data")
        train_config = (loaded.training or {}).get("train_config") or {}
        names, _ = split_files(sorted(a.name for a in train_arrs), float(train_config.get("val_share", 0.1)),
                               int(train_config.get("seed", 0)))
        in_train = set(names)
        hashes = {f.sha256 for f in train_report.used() if f.path in in_train}
        held_names = {f.path for f in report.used() if f.sha256 not in hashes}
        held = [a for a in arrs if a.name in held_names]
        if not held:
            raise ComposerError(f"every usable file of {config.folder} is in the model's training split; "
                                "evaluate on files it was not trained on")
        fit = [a for a in train_arrs if a.name in in_train]
        return held, fit, (f"{len(held)} of {len(arrs)} files not in the training split; baselines fitted on "
                           f"the training split ({len(fit)} files)")
    if len(arrs) < 2:
        raise ComposerError(f"{config.folder}: only {len(arrs)} file with accompaniment; without the model's "
                            "training folder the folder is split in two halves, so it needs at least 2")
    fit_names, held_names = split_files(sorted(a.name for a in arrs), 0.5, config.split_seed)
    by_name = {a.name: a for a in arrs}
    return ([by_name[n] for n in held_names], [by_name[n] for n in fit_names],
            f"half of the folder, {len(held_names)} files (training data not available; baselines fitted on "
            f"the other {len(fit_names)})")


def evaluate_accompaniment(config: EvalConfig, progress: ProgressFn | None = None,
                           should_stop: ShouldStop | None = None) -> AccompanyEvalResult:
    """The evaluation of the module docstring. Raises ModelFileError for a bad
    model file, ComposerError for a folder with no usable accompaniment."""
    from composer.analysis.harmony_baselines import baseline_bits
    from composer.corpus.accompany import scan_arrangements
    from composer.model.device import choose_device
    from composer.model.harmonizer_data import harmony_bits
    from composer.model.modelfile import load_model
    from composer.music.harmony import LABEL_COUNT
    from composer.services.harmonize import HarmonizeRequest, harmonize, require_accompany
    started = time.monotonic()
    config.validate()
    device, reason = choose_device(None if config.device == "auto" else config.device)
    loaded = load_model(config.model, device)
    require_accompany(loaded)
    acc = loaded.tokenizer.config

    def scan(folder, stage):
        return scan_arrangements(folder, acc, cache_dir=config.cache_dir, workers=config.workers,
                                 progress=relabel(progress, stage), should_stop=should_stop)

    arrs, report = scan(config.folder, "scanning")
    if not arrs:
        raise ComposerError(f"{config.folder}: no file with a melody and accompaniment for this model "
                            f"({len(report.files)} file(s) scanned)")
    held, fit, description = _split(loaded, {"arrangements": arrs, "report": report}, config, scan)
    notify(progress, 0, 1, "pass", "likelihood")
    bits = harmony_bits(loaded.model, held, device=device)
    baselines = baseline_bits(fit, held, acc) if acc.chords else {}
    if baselines:
        baselines["uniform"] = math.log2(LABEL_COUNT)
    melodies = held[:config.samples]
    request = HarmonizeRequest(count=1, temperature=config.temperature, seed=config.seed)
    generated = [harmonize(loaded, a, request, should_stop=should_stop).arrangements[0] for a in melodies]
    return AccompanyEvalResult(
        model=str(config.model), folder=str(config.folder), voices=tuple(acc.voices),
        likelihood={"model": {"bits_per_chord": bits.bits_per_chord, "bits_per_voice_note": bits.bits_per_voice_note,
                              "chord_labels": bits.beats, "voice_notes": bits.voice_notes, "pieces": bits.pieces},
                    "baselines": baselines},
        split={"description": description, "eval_files": [a.name for a in held]},
        harmony={"generated": harmony_stats(generated, acc), "folder": harmony_stats(melodies, acc)},
        generation={"pieces": len(melodies), "seed": config.seed, "temperature": config.temperature,
                    "device": reason},
        skipped=skipped_report(report), seconds=round(time.monotonic() - started, 2))
