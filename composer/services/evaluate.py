"""`python -m composer eval MODEL FOLDER`: how good is a model, measured.

1. Held-out likelihood, in bits per note (composer.analysis.likelihood, the trainer's own
   implementation) of the folder's pieces, next to two baselines on the same
   notes (composer.analysis.likelihood): a pitch/duration bigram fitted on the
   model's training split when its training folder is on this machine (files
   of the folder that are in that training split are left out of the
   evaluation), else on a fixed half of the folder (and everything is then
   scored on the other half only); and the uniform-over-allowed-tokens model.
2. Musical statistics of `samples` generated pieces (fixed seed) against the
   folder's pieces, with overlapping areas (composer.analysis.stats).
3. The copy meter of each generated piece against the training data
   (composer.analysis.copymeter); against the folder's fitting half if the training
   folder is not available.
4. Form (composer.analysis.form): bar and motif repetition, pitch range,
   tonic endings and silent openings of the first `bars` bars, generated
   pieces and the folder's side by side (melody models only).
5. Texture (composer.analysis.texture): notes per second, voices at once and
   the longest note, generated and folder; for a performance model also how
   many generated notes decoding ended at the note-length cap.

`evaluate(config, progress, should_stop)` is the Qt-free service; the CLI
prints a table and writes JSON (`--json`) and a one-page HTML report (`--html`).
`composer form FOLDER` measures the form of a folder alone (`folder_form`).
"""
from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from composer.analysis.texture import texture_lines, texture_section
from composer.config import ConfigMixin
from composer.errors import ComposerError
from composer.tasks import ProgressFn, ShouldStop, notify, relabel


@dataclass(frozen=True)
class EvalConfig(ConfigMixin):
    model: str
    folder: str
    samples: int = 32               # generated pieces for the statistics and the copy meter
    seed: int = 0                   # generation seed (same seed, same device -> same pieces)
    bars: int = 16                  # melody, frames: length of each generated piece, bars
    seconds: float = 30.0           # performance: length of each generated piece, seconds
    temperature: float = 1.0
    device: str = "auto"
    workers: int | None = None      # ingestion processes (None: one per core)
    cache_dir: str | None = None    # ingestion cache (None: the default)
    split_seed: int = 0             # which half of the folder fits the bigram when the training data is absent

    def __post_init__(self):
        if not 1 <= self.samples <= 10_000:
            raise ValueError(f"samples must be in 1..10000, got {self.samples}")
        if not 1 <= self.bars <= 1000:
            raise ValueError(f"bars must be in 1..1000, got {self.bars}")
        if not 0 < self.seconds <= 3600:
            raise ValueError(f"seconds must be in (0, 3600], got {self.seconds}")

    def validate(self) -> None:
        """The check that looks at the disk, before any work (the model file is checked as it is loaded)."""
        if not Path(self.folder).is_dir():
            raise ComposerError(f"{self.folder}: no such folder")


@dataclass
class EvalResult:
    model: str
    folder: str
    representation: str
    likelihood: dict = field(default_factory=dict)      # name -> BitsPerNote.to_dict() (+ notes)
    split: dict = field(default_factory=dict)           # how the folder was used
    features: list = field(default_factory=list)        # [FeatureComparison]
    copies: list = field(default_factory=list)          # [{"piece" (1-based), "length", "source"}]
    copy_index: dict = field(default_factory=dict)      # what the copy meter compares against
    generation: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)         # skipped_report(): {"count", "by_reason", "files"}
    skipped_files: int = 0                              # = skipped["count"] (kept for older readers)
    form: dict = field(default_factory=dict)            # form_section(): {"bars", "generated", "folder"} or "skipped"
    texture: dict = field(default_factory=dict)         # analysis.texture.texture_section()
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """Everything, JSON-ready: a number that is not finite (NaN, inf) becomes None."""
        out = dict(self.__dict__)
        out["features"] = [f.to_dict() for f in self.features]
        return finite_or_none(out)

    def to_json(self) -> str:
        """Strict JSON (no NaN or Infinity, which JSON.parse rejects): null where a number is unavailable."""
        return json.dumps(self.to_dict(), indent=1, allow_nan=False)

    def table_lines(self) -> list[str]:
        """A short terminal table of the results."""
        lines = [f"{'model':<22}{'bits/note':>10}{'bits/token':>11}{'notes':>9}{'files':>7}"]
        for name, m in self.likelihood.items():
            lines.append(f"{name:<22}{fmt_number(m['bits_per_note']):>10}{fmt_number(m['bits_per_token']):>11}"
                         f"{m['notes']:>9}{m['files']:>7}")
        lines.append(f"evaluated on: {self.split.get('description', '')}")
        if self.skipped.get("count"):
            lines.append(skipped_line(self.skipped))
        lines.append(f"{'feature':<16}{'OA':>6}{'generated':>11}{'folder':>9}")
        for f in self.features:
            lines.append(f"{f.name:<16}{fmt_number(f.oa):>6}{fmt_number(f.generated_mean):>11}"
                         f"{fmt_number(f.reference_mean):>9}")
        lines += form_lines(self.form)
        lines += texture_lines(self.texture)
        if self.copies:
            lines.append(self.copy_line())
        return lines

    def copy_line(self) -> str:
        """The copy meter in one line: mean and longest copied run over the generated pieces."""
        head = f"copy meter ({self.copy_index.get('description', '')}): "
        worst = max(self.copies, key=lambda c: c["length"])
        if not worst["length"]:
            n = len(self.copies)
            return head + f"no run of {self.copy_index.get('anchor', 4)}+ notes shared ({n} piece{'s' * (n != 1)})"
        mean = sum(c["length"] for c in self.copies) / len(self.copies)
        return head + (f"mean {mean:.1f} notes, longest {worst['length']} "
                       f"(piece {worst['piece']}, from {worst['source']})")


def fmt_number(value, digits: int = 3) -> str:
    """A number for a table; "-" for None, NaN or infinity (a value that is not available)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def finite_or_none(value):
    """`value` with every non-finite float (in dicts, lists, tuples) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def skipped_report(report) -> dict:
    """The skipped files of an ingest report: {"count": n, "by_reason": {kind: n} (most
    frequent first), "files": [{"path", "reason"}] (sorted by path)}."""
    from composer.corpus.ingest import reason_kind
    skipped = report.skipped()
    kinds = Counter(reason_kind(f.reason) for f in skipped)
    return {"count": len(skipped), "by_reason": dict(kinds.most_common()),
            "files": [{"path": f.path, "reason": f.reason} for f in skipped]}


def reasons_text(skipped: dict) -> str:
    """'too long (2), corrupt (1)' for a skipped_report()."""
    return ", ".join(f"{kind} ({n})" for kind, n in skipped.get("by_reason", {}).items())


def skipped_line(skipped: dict, names: int = 3) -> str:
    """'2 file(s) skipped: too long (2): a.mid, b.mid' with at most `names` names."""
    files = [f["path"] for f in skipped.get("files", [])]
    shown = ", ".join(files[:names])
    if len(files) > names:
        shown += f", and {len(files) - names} more (all in --json)"
    return f"{skipped['count']} file(s) skipped: {reasons_text(skipped)}: {shown}"


PERFORMANCE_FORM_REASON = ("a performance model has no meter or beat grid (note times are in milliseconds), "
                           "so bars and repeated bars are not defined")


FRAMES_FORM_REASON = "the form statistics are defined on one line of melody, and a frames model writes all parts"


def form_section(generated_songs, folder_songs, folder_names: list[str], bars: int, kind: str) -> dict:
    """The `form` of an EvalResult: both sides' composer.analysis.form statistics
    of the first `bars` bars, or {"bars": None, "skipped": reason} for a model of
    another `kind` than melody."""
    from composer.analysis.form import form_stats
    if kind != "melody":
        return {"bars": None, "skipped": FRAMES_FORM_REASON if kind == "frames" else PERFORMANCE_FORM_REASON}
    folder = form_stats(folder_songs, bars).to_dict()
    folder["files"] = list(folder_names)
    return {"bars": bars, "generated": form_stats(generated_songs, bars).to_dict(), "folder": folder}


def form_lines(form: dict) -> list[str]:
    """Terminal lines for a form_section() (none for an empty one)."""
    from composer.analysis.form import summary_table
    if form.get("skipped"):
        return [f"form: not measured: {form['skipped']}"]
    sides = {name: form[name]["summary"] for name in ("generated", "folder") if name in form}
    if not sides:
        return []
    return [f"form, first {form['bars']} bars (mean +- SD over pieces; shares of pieces):"] + summary_table(sides)


def _likelihood(loaded, eval_seqs: list[list[int]], fit_seqs: list[list[int]] | None, device) -> dict:
    from composer.analysis.likelihood import BigramModel, BitsPerNote, evaluate_bits_per_note, uniform_bits
    tok = loaded.tokenizer
    notes = sum(tok.count_notes(s) for s in eval_seqs)
    tokens = sum(len([t for t in s[1:] if t != 0]) for s in eval_seqs)
    out = {"model": evaluate_bits_per_note(loaded.model, tok, eval_seqs, device=device).to_dict()}
    if fit_seqs:
        bigram = BigramModel(tok).fit(fit_seqs)
        bits = sum(bigram.sequence_bits(s) for s in eval_seqs)
        out["bigram"] = BitsPerNote(bits, notes, tokens, len(eval_seqs)).to_dict()
        out["bigram"]["fitted_on_files"] = bigram.sequences
    uniform = uniform_bits(tok, eval_seqs)
    out["uniform"] = BitsPerNote(sum(uniform.bits), notes, tokens, len(eval_seqs)).to_dict()
    out["uniform"]["outside_grammar_tokens"] = uniform.outside_grammar
    return out


@dataclass
class _Split:
    """How the folder is used: which files are scored, what fits the bigram, what the copy meter reads."""

    eval_names: list[str]
    fit_seqs: list[list[int]]
    split: dict
    index_pieces: dict | None          # None: the index stored in the model file
    index_desc: str


class _Evaluation:
    """One `evaluate` run: the model, the scans, the split and the measurements."""

    def __init__(self, config: EvalConfig, progress: ProgressFn | None, should_stop: ShouldStop | None):
        from composer.model.device import choose_device
        from composer.model.modelfile import load_model
        self.config, self.progress, self.should_stop = config, progress, should_stop
        self.device, self.device_reason = choose_device(None if config.device == "auto" else config.device)
        self.loaded = load_model(config.model, self.device)
        self.loaded.require_plain("evaluate")
        if self.loaded.tokenizer.kind == "drums":
            raise ComposerError(f"{config.model} is a drums model: eval measures melody and performance models; a "
                                "drums model's held-out bits per drum hit are in its training summary (composer info)")
        self.tok = self.loaded.tokenizer

    def scan(self, folder, stage: str):
        from composer.corpus.ingest import scan_folder
        return scan_folder(folder, self.tok, cache_dir=self.config.cache_dir, workers=self.config.workers,
                           progress=relabel(self.progress, stage), should_stop=self.should_stop)

    def training_split(self):
        """(training folder corpus, names of its training split) or (None, None)."""
        from composer.analysis.copymeter import training_folder
        from composer.corpus.split import split_files
        folder = training_folder(self.loaded)
        if not folder or not Path(folder).is_dir():
            return None, None
        corpus = self.scan(folder, "training data")
        train_config = (self.loaded.training or {}).get("train_config") or {}
        names, _ = split_files(sorted(corpus.sequences), float(train_config.get("val_share", 0.1)),
                               int(train_config.get("seed", 0)))
        return corpus, names

    def split(self, corpus, scanned: str) -> _Split:
        names = sorted(corpus.sequences)
        train_corpus, train_names = self.training_split()
        if train_corpus is not None:
            return self.split_by_training(corpus, train_corpus, train_names)
        if len(names) < 2:
            raise ComposerError(f"{self.config.folder}: only {len(names)} usable MIDI file ({scanned}); without the "
                                "model's training folder the folder is split in two halves (one fits the bigram "
                                "baseline, the other is scored), so it needs at least 2 usable files")
        from composer.corpus.split import split_files
        fit_names, eval_names = split_files(names, 0.5, self.config.split_seed)
        split = {"description": f"half of the folder, {len(eval_names)} files (training data not available; "
                                f"bigram fitted on the other {len(fit_names)})",
                 "bigram_fit": "other half of the folder", "fit_files": fit_names}
        index_pieces = {n: corpus.sequences[n] for n in fit_names}
        index_desc = f"the other half of {self.config.folder} (training folder not available)"
        if self.loaded.copy_index() is not None:
            index_pieces, index_desc = None, "the training data's index stored in the model file"
        return _Split(eval_names, [corpus.sequences[n] for n in fit_names], split, index_pieces, index_desc)

    def split_by_training(self, corpus, train_corpus, train_names) -> _Split:
        names = sorted(corpus.sequences)
        in_train = set(train_names)
        train_hashes = {f.sha256 for f in train_corpus.report.used() if f.path in in_train}
        eval_names = [f.path for f in corpus.report.used() if f.sha256 not in train_hashes]
        if not eval_names:
            raise ComposerError(f"every usable file of {self.config.folder} is in the model's training split; "
                                "evaluate on files it was not trained on")
        fit_seqs = [train_corpus.sequences[n] for n in train_names]
        split = {"description": f"{len(eval_names)} of {len(names)} files (left out {len(names) - len(eval_names)} "
                                f"in the training split); bigram fitted on the training split of "
                                f"{train_corpus.report.folder} ({len(fit_seqs)} files)",
                 "bigram_fit": "training split", "training_folder": train_corpus.report.folder,
                 "left_out_in_training_split": len(names) - len(eval_names)}
        return _Split(eval_names, fit_seqs, split, train_corpus.sequences,
                      f"training folder {train_corpus.report.folder}")

    def copies(self, songs, index) -> list[dict]:
        from composer.analysis.copymeter import copy_meter
        out = []
        for i, song in enumerate(songs):
            length, source = copy_meter(song, index)
            out.append({"piece": i + 1, "length": length, "source": source})     # 1-based, as users see them
        return out


def evaluate(config: EvalConfig, progress: ProgressFn | None = None,
             should_stop: ShouldStop | None = None) -> EvalResult:
    """Run the whole evaluation (see the module docstring). Raises
    ModelFileError for a bad model file, ComposerError for a folder with
    nothing usable, Cancelled when `should_stop()` returns True.
    progress(Progress) in the stages "scanning", "training data", "likelihood", "generating"."""
    from composer.analysis.stats import compare_sets, set_features
    from composer.model.copyindex import CopyIndex
    from composer.services.generate import GenerateRequest, generate

    started = time.monotonic()
    config.validate()
    run = _Evaluation(config, progress, should_stop)
    tok = run.tok
    corpus = run.scan(config.folder, "scanning")
    skipped = skipped_report(corpus.report)
    scanned = f"{len(corpus.report.files)} file(s) scanned" + (f"; skipped: {reasons_text(skipped)}"
                                                               if skipped["count"] else "")
    if not corpus.sequences:
        raise ComposerError(f"{config.folder}: no usable MIDI files for a {tok.kind} model ({scanned})")
    names = sorted(corpus.sequences)
    used = run.split(corpus, scanned)
    used.split.update(eval_files=used.eval_names, folder_files=len(corpus.report.files), usable_files=len(names))
    notify(progress, 0, 1, "pass", "likelihood")
    likelihood = _likelihood(run.loaded, [corpus.sequences[n] for n in used.eval_names], used.fit_seqs, run.device)
    notify(progress, 1, 1, "pass", "likelihood")
    grid = tok.kind != "performance"                                   # melody and frames: a length in bars
    request = GenerateRequest(count=config.samples, bars=config.bars if grid else None,
                              seconds=None if grid else config.seconds, temperature=config.temperature,
                              seed=config.seed, form="free")     # the model's own music, not the planner's
    generated = generate(run.loaded, request, progress=progress, should_stop=should_stop)
    reference = [tok.decode(corpus.sequences[n]) for n in names]       # the music the model sees
    index = (CopyIndex.from_corpus(used.index_pieces, tok, should_stop=should_stop)
             if used.index_pieces is not None else run.loaded.copy_index())
    return EvalResult(
        model=str(config.model), folder=str(config.folder), representation=tok.kind, likelihood=likelihood,
        split=used.split, features=compare_sets(set_features(generated.songs), set_features(reference)),
        copies=run.copies(generated.songs, index),
        copy_index={"description": used.index_desc, "files": len(index.names), "notes": index.n_notes,
                    "anchor": index.anchor},
        generation={"samples": config.samples, "seed": generated.seed, "bars": request.bars,
                    "seconds": request.seconds, "temperature": config.temperature, "device": run.device_reason},
        skipped=skipped, skipped_files=skipped["count"],
        form=form_section(generated.songs, reference, names, config.bars, tok.kind),
        texture=texture_section(tok, generated.tokens, generated.songs, reference),
        seconds=round(time.monotonic() - started, 2))


# ---- form of a folder alone: `composer form FOLDER` ----------------------------------------
def folder_form(folder, *, bars: int = 16, model: str | None = None, every: int = 1, workers: int | None = None,
                cache_dir: str | None = None, progress: ProgressFn | None = None,
                should_stop: ShouldStop | None = None) -> dict:
    """Form statistics (composer.analysis.form) of the first `bars` bars of
    every `every`-th MIDI file of `folder` (sorted by path, skipped files
    included in the count), each read as the melody a model sees: scanned with
    `model`'s tokenizer (default: the default melody representation) and
    decoded from its tokens. Returns {"folder", "every", "selected",
    "skipped", "form": FormStats.to_dict() with "files"}."""
    from composer.analysis.form import form_stats
    from composer.corpus.ingest import scan_folder
    from composer.representations.melody import MelodyTokenizer
    if bars < 1 or every < 1:
        raise ValueError(f"bars and every must be >= 1, got bars={bars}, every={every}")
    tok = MelodyTokenizer()
    if model is not None:
        from composer.model.modelfile import load_model
        tok = load_model(model, "cpu").tokenizer
        if not isinstance(tok, MelodyTokenizer):
            raise ComposerError(f"{model}: {PERFORMANCE_FORM_REASON}; give a melody model or none")
    if not Path(folder).is_dir():
        raise ComposerError(f"{folder}: no such folder")
    corpus = scan_folder(folder, tok, cache_dir=cache_dir, workers=workers, progress=progress,
                         should_stop=should_stop)
    selected = sorted(f.path for f in corpus.report.files)[::every]
    names = [n for n in selected if n in corpus.sequences]
    if not names:
        raise ComposerError(f"{folder}: no usable MIDI file among the {len(selected)} selected "
                            f"({len(corpus.report.files)} scanned)")
    stats = form_stats([tok.decode(corpus.sequences[n]) for n in names], bars).to_dict()
    stats["files"] = names
    return {"folder": str(folder), "every": every, "selected": len(selected), "skipped": skipped_report(corpus.report),
            "form": stats}
