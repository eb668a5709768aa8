"""One model file: safetensors weights plus JSON metadata in its header.

Loading never unpickles anything: the file is parsed by safetensors, whose
format holds only tensors and strings. Every failure is a `ModelFileError`
with one line naming the file and the problem.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import save as save_tensors

from composer.errors import ComposerError, ModelFileError
from composer.model.harmonizer_network import HarmonizerConfig, HarmonizerRNN, is_harmonizer_config
from composer.model.infill_network import InfillConfig, InfillRNN, is_infill_config
from composer.model.metadata_schema import FieldError, check_metadata, parse_metadata
from composer.model.network import ModelConfig, MusicRNN
from composer.model.tensorfile import METADATA, parameter_count, read_header, read_tensors, stored_shapes
from composer.music.midifile import write_atomic
from composer.paths import shown
from composer.representations.base import Tokenizer
from composer.representations.registry import tokenizer_from_config
from composer.safe_write import check_target

FORMAT_NAME = "composer-model"
FORMAT_VERSION = 4          # 2: may hold a copy index; 3: the model has lookback inputs; 4: a harmoniser
                            # (older readers could not run them); a file needs only what it uses, so most are
                            # still written as 1
COPY_PREFIX = "copy_index."  # tensors of the stored copy index (composer.analysis.copymeter), not weights
MODEL_SUFFIX = ".model"
WHAT = "model file"          # what messages call the file


@dataclass
class LoadedModel:
    """A model ready to sample, with everything its file says about it."""

    model: MusicRNN | InfillRNN | HarmonizerRNN   # InfillRNN: composer.services.infill; HarmonizerRNN: .harmonize
    tokenizer: Tokenizer             # (an AccompanyRepresentation for a harmoniser)
    path: Path | None = None
    training: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    copy_arrays: dict = field(default_factory=dict, repr=False)   # the stored copy index's tensors, if any
    _copy_index: object = field(default=None, init=False, repr=False, compare=False)

    def copy_index(self):
        """The copy index of the training data stored in the file
        (composer.model.copyindex.CopyIndex, built once), or None if it holds none."""
        if self._copy_index is None and self.copy_arrays:
            from composer.model.copyindex import CopyIndex
            try:                                 # (checked here, not on loading: the weights never depend on it)
                arrays = {k: v.numpy() for k, v in self.copy_arrays.items()}
                self._copy_index = CopyIndex.from_stored(arrays, self.meta.get("copy_index"))
            except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
                where = shown(self.path) if self.path else "model file"
                raise ModelFileError(f"{where}: damaged copy index ({_one_line(exc)})") from None
        return self._copy_index

    @property
    def is_infill(self) -> bool:
        return isinstance(self.model, InfillRNN)

    @property
    def is_accompany(self) -> bool:
        return isinstance(self.model, HarmonizerRNN)

    def require_plain(self, task: str) -> None:
        """Raise ComposerError when `task` (e.g. "generating") needs a left-to-right model and this is an
        infill or accompaniment one."""
        if self.is_accompany:
            raise ComposerError(f"{shown(self.path) if self.path else 'this model'} is an accompaniment model: it "
                                f"harmonises a melody (composer harmonize, generate --accompany); {task} needs a "
                                "melody model")
        if self.is_infill:
            raise ComposerError(f"{shown(self.path) if self.path else 'this model'} is an infill model: it rewrites "
                                f"bars of a song (composer infill); {task} needs a left-to-right model")

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def summary(self) -> str:
        c = self.model.config
        return summary_text(self.tokenizer.kind, self.is_infill, c.cell, c.num_layers, c.hidden_size,
                            self.model.num_parameters(), corpus_name(self.training))


def corpus_name(training: dict) -> str:
    """The name of the data a model was trained on, from its file's training summary ("" if none)."""
    corpus = training.get("corpus", {}) if isinstance(training, dict) else {}
    name = corpus.get("name", "") if isinstance(corpus, dict) else str(corpus)
    return str(name or (training.get("corpus_name", "") if isinstance(training, dict) else "") or "")


def summary_text(kind: str, infill: bool, cell: str, layers: int, hidden: int, parameters: int,
                 corpus: str = "") -> str:
    """One line describing a model, e.g. "melody LSTM 2x256, 0.96M parameters, trained on folk"."""
    return (f"{kind}{' infill' if infill else ''} {cell.upper()} {layers}x{hidden}, "
            f"{parameters / 1e6:.2f}M parameters" + (f", trained on {corpus}" if corpus else ""))


def stored_parameters(path: str | os.PathLike, tied: bool = False) -> int:
    """The weights in a model file, from its header alone: the copy index's tensors are
    not parameters, and a head tied to the embedding counts once (`tied`)."""
    shapes = stored_shapes(read_header(path, ModelFileError, WHAT))
    return parameter_count({name: shape for name, shape in shapes.items()
                            if not name.startswith(COPY_PREFIX) and not (tied and name == "head.weight")})


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from composer import __version__
    out = {"composer": __version__, "python": platform.python_version()}
    for package in ("torch", "numpy", "mido", "safetensors"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "unknown"
    return out


def model_metadata(model: MusicRNN | InfillRNN, tokenizer: Tokenizer, training: dict | None = None) -> dict:
    return {
        "format": FORMAT_NAME,
        "format_version": _base_version(model.config.to_dict()),   # raised to 2 by a copy index (_put_copy_index)
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "model": model.config.to_dict(),
        "representation": {"kind": tokenizer.kind, "config": tokenizer.config.to_dict()},
        "vocabulary": tokenizer.vocab,
        "training": training or {},
        "library_versions": library_versions(),
    }


def _base_version(model_config: dict) -> int:
    """The format version a model's weights need: 4 for a harmoniser, 3 with lookback
    inputs (a reader without them would refuse the config with a less helpful
    message), else 1."""
    if is_harmonizer_config(model_config):
        return 4
    return 3 if model_config.get("lookback") else 1


def _put_copy_index(tensors: dict, meta: dict, copy_index) -> None:
    """Put `copy_index` (a composer.model.copyindex.CopyIndex; None: none) into a model
    file's tensors and metadata in place of any there: a file with one is format
    version 2 (or its model's, if higher), so that older readers say to update;
    a file without one stays at its model's version (1 for most)."""
    for name in [k for k in tensors if k.startswith(COPY_PREFIX)]:
        del tensors[name]
    meta.pop("copy_index", None)
    base = _base_version(meta.get("model") or {})
    meta["format_version"] = base
    if copy_index is not None:
        arrays, meta["copy_index"] = copy_index.stored()
        tensors.update({COPY_PREFIX + k: torch.from_numpy(v) for k, v in arrays.items()})
        meta["format_version"] = max(base, 2)


def model_bytes(model: MusicRNN, tokenizer: Tokenizer, training: dict | None = None, copy_index=None) -> bytes:
    """The complete model file as bytes; `copy_index` (a composer.model.copyindex.CopyIndex
    of the training data, for the copy meter) is stored with it when given."""
    if model.config.vocab_size != tokenizer.vocab_size:
        raise ValueError(f"model vocab_size {model.config.vocab_size} != tokenizer vocabulary {tokenizer.vocab_size}")
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    meta = model_metadata(model, tokenizer, training)
    _put_copy_index(tensors, meta, copy_index)
    return save_tensors(tensors, metadata={"format": FORMAT_NAME, "composer": json.dumps(meta)})


def save_model(path: str | os.PathLike, model: MusicRNN, tokenizer: Tokenizer,
               training: dict | None = None, *, force: bool = True, copy_index=None) -> Path:
    """Write a model file atomically (temp file, fsync, rename)."""
    return write_atomic(path, model_bytes(model, tokenizer, training, copy_index), force=force)


def store_copy_index(path: str | os.PathLike, copy_index) -> Path:
    """Rewrite the model file at `path` with `copy_index` stored in it (None:
    without one), keeping its weights and metadata as they are."""
    return rewrite_model_file(path, lambda tensors, meta: _put_copy_index(tensors, meta, copy_index))


def take_copy_index(tensors: dict, meta: dict) -> None:
    """Remove any copy index from a model file's `tensors` and `meta` (for `rewrite_model_file`)."""
    _put_copy_index(tensors, meta, None)


def rewrite_model_file(path: str | os.PathLike, change) -> Path:
    """Rewrite the model file at `path` after `change(tensors, meta)` edits its
    tensors (a dict of name -> tensor) and metadata in place; tensors it leaves
    alone are written back byte for byte."""
    path = Path(path)
    check_target(path)
    header, tensors = read_tensors(path, ModelFileError, WHAT)
    meta = _checked(header, path)[0]
    change(tensors, meta)
    return write_atomic(path, save_tensors(tensors, metadata={"format": FORMAT_NAME, "composer": json.dumps(meta)}),
                        force=True)


def read_metadata(path: str | os.PathLike) -> dict:
    """The JSON metadata of a model file, every field checked (metadata_schema) and the
    configs it describes built, without loading the weights."""
    return _checked(read_header(path, ModelFileError, WHAT), path)[0]


def _config_class(model_config: dict):
    if is_infill_config(model_config):
        return InfillConfig
    return HarmonizerConfig if is_harmonizer_config(model_config) else ModelConfig


def _model_class(config):
    return {InfillConfig: InfillRNN, HarmonizerConfig: HarmonizerRNN}.get(type(config), MusicRNN)


def _checked(header: dict, path) -> tuple[dict, Tokenizer, ModelConfig | InfillConfig | HarmonizerConfig]:
    """(metadata, tokenizer, model config) of a model file's safetensors header;
    ModelFileError naming the field or value that is wrong."""
    stored = header.get(METADATA, {})
    if stored.get("format") != FORMAT_NAME or "composer" not in stored:
        raise ModelFileError(f"{shown(path)}: a safetensors file, but not a {FORMAT_NAME} file (no composer metadata)")
    try:
        meta = parse_metadata(stored["composer"])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{shown(path)}: metadata is not valid JSON ({exc.msg})") from None
    except ValueError as exc:             # nested too deep, a number too long
        raise ModelFileError(f"model file {shown(path)}: {_one_line(exc)[:200]}") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{shown(path)}: metadata is not a JSON object")
    version = meta.get("format_version")
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise ModelFileError(f"{shown(path)}: format version {version} is newer than this program supports "
                             f"({FORMAT_VERSION}); please update the app")
    try:
        check_metadata(meta)
    except FieldError as exc:
        raise ModelFileError(f"model file {shown(path)}: {exc}") from None
    try:
        tokenizer = tokenizer_from_config(meta["representation"]["kind"], meta["representation"]["config"])
        config = _config_class(meta["model"]).from_dict(meta["model"])
    except (ValueError, TypeError, ArithmeticError, ComposerError) as exc:
        raise ModelFileError(f"{shown(path)}: invalid metadata ({_one_line(exc)})") from None
    if meta["vocabulary"] != tokenizer.vocab:
        raise ModelFileError(f"{shown(path)}: the stored vocabulary does not match its representation config")
    if (tokenizer.kind == "accompany") != isinstance(config, HarmonizerConfig):
        raise ModelFileError(f"{shown(path)}: representation {tokenizer.kind!r} does not fit a "
                             f"{config.__class__.__name__}")
    if config.vocab_size != tokenizer.vocab_size:
        raise ModelFileError(f"{shown(path)}: model vocab_size {config.vocab_size} does not match the "
                             f"vocabulary ({tokenizer.vocab_size} tokens)")
    return meta, tokenizer, config


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def load_model(path: str | os.PathLike, device: torch.device | str = "cpu") -> LoadedModel:
    """Load a model file onto `device` (CPU or GPU alike), in eval mode."""
    path = Path(path)
    header, tensors = read_tensors(path, ModelFileError, WHAT)
    meta, tokenizer, config = _checked(header, path)
    model_class = _model_class(config)
    weights = {k: v for k, v in tensors.items() if not k.startswith(COPY_PREFIX)}
    with torch.device("meta"):                 # the config's shapes, before it may ask for memory
        expected = {k: tuple(v.shape) for k, v in model_class(config).state_dict().items()}
    if {k: tuple(v.shape) for k, v in weights.items()} != expected:
        raise ModelFileError(f"{shown(path)}: weights do not match the model config "
                             f"({_shape_difference(expected, weights)})")
    model = model_class(config)
    try:
        model.load_state_dict(weights, strict=True)
    except Exception as exc:
        raise ModelFileError(f"{shown(path)}: weights do not match the model config ({_one_line(exc)[:300]})") from None
    copy_arrays = {k[len(COPY_PREFIX):]: v for k, v in tensors.items() if k.startswith(COPY_PREFIX)}
    model.to(device).eval()
    return LoadedModel(model=model, tokenizer=tokenizer, path=path,
                       training=meta.get("training", {}), meta=meta, copy_arrays=copy_arrays)


def _shape_difference(expected: dict, weights: dict) -> str:
    """The first tensor that is missing, unexpected or of another shape."""
    for name in sorted(set(expected) | set(weights)):
        if name not in weights:
            return f"missing {name}"
        if name not in expected:
            return f"unexpected {name}"
        if tuple(weights[name].shape) != expected[name]:
            return f"{name} is {list(weights[name].shape)}, the config says {list(expected[name])}"
    return "?"
