"""Training checkpoints that are safe to load: safetensors + JSON, no pickle.

A checkpoint is one safetensors file. Tensors: the model's state dict
(`model.<name>`) and the optimizer's per-parameter state
(`optim.<index>.<name>`). Everything else (step, schedule position, best
validation score, optimizer hyper-parameters, GradScaler state, the split, the
train config) is JSON in the safetensors header. Written atomically, so a crash
while saving leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save as save_tensors

from composer.errors import ComposerError
from composer.model.metadata_schema import parse_metadata
from composer.model.tensorfile import METADATA, read_header, read_tensors
from composer.music.midifile import write_atomic
from composer.paths import shown

FORMAT = "composer-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict          # as torch.optim.Optimizer.state_dict() returns it
    meta: dict                     # JSON-able training state
    extra: dict[str, torch.Tensor] = None   # other tensors, e.g. the recurrent state carried between steps


def _jsonable(value):
    if isinstance(value, torch.Tensor):
        return value.item()
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def checkpoint_bytes(model_state: dict[str, torch.Tensor], optimizer_state: dict, meta: dict,
                     extra: dict[str, torch.Tensor] | None = None) -> bytes:
    tensors = {f"model.{k}": v.detach().to("cpu").contiguous().clone() for k, v in model_state.items()}
    tensors.update({f"extra.{k}": v.detach().to("cpu").contiguous().clone() for k, v in (extra or {}).items()})
    scalars: dict[str, dict] = {}
    for index, state in optimizer_state.get("state", {}).items():
        for name, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{name}"] = value.detach().to("cpu").contiguous().clone()
            else:
                scalars.setdefault(str(index), {})[name] = _jsonable(value)
    header = {"format": FORMAT, "version": VERSION, "meta": _jsonable(meta),
              "optimizer": {"param_groups": _jsonable(optimizer_state.get("param_groups", [])),
                            "scalars": scalars}}
    return save_tensors(tensors, metadata={"format": FORMAT, "checkpoint": json.dumps(header)})


def save_checkpoint(path: str | os.PathLike, model_state: dict[str, torch.Tensor], optimizer_state: dict,
                    meta: dict, extra: dict[str, torch.Tensor] | None = None) -> Path:
    """Write a checkpoint atomically (temp file, fsync, rename), replacing the old one."""
    return write_atomic(path, checkpoint_bytes(model_state, optimizer_state, meta, extra), force=True)


def stored_representation(path: str | os.PathLike) -> dict | None:
    """The {"kind", "config"} a checkpoint was trained with (its header only); None if unreadable."""
    try:
        header = read_header(path, ComposerError, "checkpoint")
        return json.loads((header.get(METADATA) or {}).get("checkpoint", ""))["meta"]["representation"]
    except Exception:       # load_checkpoint reports what is wrong with the file
        return None


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by `save_checkpoint`; never unpickles."""
    path = Path(path)
    if not path.exists():
        raise ComposerError(f"{shown(path)}: no checkpoint to resume from")
    header, tensors = read_tensors(path, ComposerError, "checkpoint")
    try:
        header = parse_metadata(header.get(METADATA, {}).get("checkpoint") or "")
    except ValueError:
        raise ComposerError(f"{shown(path)}: not a {FORMAT} file (no checkpoint header)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ComposerError(f"{shown(path)}: not a {FORMAT} file")
    if int(header.get("version", 0)) > VERSION:
        raise ComposerError(f"{shown(path)}: checkpoint version {header.get('version')} is newer than this program")
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for index, values in header["optimizer"]["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    optimizer_state = {"state": state, "param_groups": header["optimizer"]["param_groups"]}
    extra = {k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")}
    return Checkpoint(model_state=model_state, optimizer_state=optimizer_state, meta=header["meta"], extra=extra)
