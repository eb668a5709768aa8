"""Describe a model file from its metadata, without loading the weights: the
one description `composer info`, the app's model picker and the status lines
(LoadedModel.summary, the same text) use."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from composer.model.infill_network import is_infill_config
from composer.model.modelfile import corpus_name, read_metadata, stored_parameters, summary_text


@dataclass(frozen=True)
class ModelDescription:
    path: Path
    representation: str             # "melody" | "performance" | "frames" | "accompany"
    cell: str                       # "LSTM" | "GRU" | "RNN"
    layers: int
    hidden: int
    parameters: int                 # weights only (the copy index is data, not parameters)
    infill: bool                    # an infill model: it rewrites spans, it does not generate
    corpus: str = ""
    val_bits_per_note: float | None = None   # best validation score from training, when there was one
    val_files: int = 0
    copy_index_notes: int | None = None      # None: the file holds no copy index
    copy_index_files: int | None = None
    meta: dict = field(default_factory=dict, compare=False, repr=False)

    def summary(self) -> str:
        """The one-line summary (the same as LoadedModel.summary of the loaded file)."""
        return summary_text(self.representation, self.infill, self.cell, self.layers, self.hidden,
                            self.parameters, self.corpus)

    def info_lines(self) -> list[str]:
        """What `composer info` prints."""
        meta = self.meta
        model, rep, training = meta.get("model", {}), meta.get("representation", {}), meta.get("training", {})
        lines = [
            f"file:            {self.path}",
            f"format:          {meta.get('format')} v{meta.get('format_version')} (created {meta.get('created', '?')})",
            f"representation:  {rep.get('kind')}  {json.dumps(rep.get('config', {}))}",
            f"vocabulary:      {len(meta.get('vocabulary', []))} tokens",
            f"model:           {model.get('cell', '?').upper()} {model.get('num_layers')}x{model.get('hidden_size')}, "
            f"embedding {model.get('embed_dim')}, dropout {model.get('dropout')}, " + (
                _harmonizer_text(model, rep.get("config", {})) if model.get("architecture") == "harmonizer" else
                f"infill (both sides, {model.get('context_bars')} bars of context each"
                f"{', attention' if model.get('attention') else ''})" if self.infill
                else f"tied head {model.get('tie_weights')}")
            + (f", lookback {', '.join(map(str, model['lookback']))} bar(s)"
               f"{' with copy gate' if model.get('lookback_copy') else ''}" if model.get("lookback") else ""),
            f"parameters:      {self.parameters:,}",
        ]
        for key, value in training.items():
            lines.append(f"training.{key + ':':<9}{json.dumps(value) if isinstance(value, (dict, list)) else value}")
        copies = meta.get("copy_index")
        if isinstance(copies, dict):
            notes, names = copies.get("notes"), copies.get("names")
            lines.append("copy index:      " + (f"{notes:,}" if isinstance(notes, int) else "?") + " notes of "
                         + (f"{len(names)}" if isinstance(names, list) else "?") + " file(s)")
        else:
            lines.append("copy index:      none (the copy meter needs the training folder)")
        lines.append("libraries:       " + ", ".join(f"{k} {v}" for k, v in meta.get("library_versions", {}).items()))
        return lines


def _harmonizer_text(model: dict, config: dict) -> str:
    parts = ", ".join(config.get("voices", [])) or "no voices"
    return (f"harmoniser (bidirectional over the melody; parts {parts}"
            f"{', chord labels' if model.get('chords') else ''})")


def _score(training: dict) -> dict:
    value = training.get("val_bits_per_note")
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return {}
    corpus = training.get("corpus", {})
    files = corpus.get("val_files", 0) if isinstance(corpus, dict) else 0
    return {"val_bits_per_note": float(value), "val_files": int(files or 0)}


def describe_model(path: str | os.PathLike) -> ModelDescription:
    """A model file's description; raises ModelFileError for a file that is not one."""
    path = Path(path)
    meta = read_metadata(path)
    model = meta.get("model", {}) or {}
    training = meta.get("training", {}) or {}
    copies = meta.get("copy_index")
    copies = copies if isinstance(copies, dict) else {}
    names = copies.get("names")
    return ModelDescription(
        path=path, representation=str(meta.get("representation", {}).get("kind", "?")),
        cell=str(model.get("cell", "?")).upper(), layers=int(model.get("num_layers", 0)),
        hidden=int(model.get("hidden_size", 0)),
        parameters=stored_parameters(path, bool(model.get("tie_weights"))), infill=is_infill_config(model),
        corpus=corpus_name(training), copy_index_notes=copies.get("notes") if copies else None,
        copy_index_files=len(names) if isinstance(names, list) else None, meta=meta, **_score(training))
