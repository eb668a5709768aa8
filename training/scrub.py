"""Model files that reveal no paths of the machine that trained them.

    python -m training.scrub MODEL...             # paths in the training summary -> names only
    python -m training.scrub MODEL... --private   # also no folder names and no copy index

A model's training summary names its training folder and the run's files
(`--out`, `--report`, checkpoints, cache, `--init-from`). The trainer stores
each as a path relative to the model file's folder when it lies inside it
(so `copy-index MODEL` and `eval` still find the training folder next to the
model), else as its name alone (`shareable_summary`). This command rewrites
an existing file the same way, changing only its metadata: the weights (and
any copy index) stay byte for byte. For files trained before the trainer did
this, e.g. the shipped models (training/default_models.py).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path, PurePath

# the TrainConfig fields that are paths on the training machine
PATH_FIELDS = ("folder", "out", "report", "cache_dir", "checkpoint_dir", "init_from")


def shareable_path(path: str | os.PathLike | None, model_path: str | os.PathLike | None) -> str | None:
    """`path` relative to the folder of `model_path` when it lies inside it,
    else its name alone (always its name when `model_path` is None): never an
    absolute path, never one that climbs out of the model's folder."""
    if path is None or str(path) == "":
        return None
    if model_path is not None:
        base = Path(os.path.abspath(Path(model_path).parent))
        try:
            return Path(os.path.abspath(path)).relative_to(base).as_posix() or "."
        except ValueError:
            pass
    name = PurePath(os.path.abspath(path)).name
    return name or None


def shareable_summary(training: dict, model_path: str | os.PathLike | None, *, private: bool = False) -> dict:
    """A copy of a model's training summary whose paths are `shareable_path`s
    (with `private`: none at all, and no corpus name either)."""
    out = dict(training)
    corpus = out.get("corpus")
    if isinstance(corpus, dict):
        corpus = dict(corpus)
        folder = None if private else shareable_path(corpus.get("folder"), model_path)
        corpus["folder"] = folder
        if private:
            corpus["name"] = ""
        out["corpus"] = corpus
    config = out.get("train_config")
    if isinstance(config, dict):
        config = dict(config)
        for name in PATH_FIELDS:
            if name in config:
                config[name] = None if private else shareable_path(config[name], model_path)
        out["train_config"] = config
    return out


def scrub(path: str | os.PathLike, *, private: bool = False) -> bool:
    """Rewrite the model file at `path` with a `shareable_summary` (and, with
    `private`, without its copy index); the weights stay byte for byte.
    Returns whether anything changed (an unchanged file is not rewritten)."""
    from composer.model.modelfile import read_metadata, rewrite_model_file, take_copy_index
    meta = read_metadata(path)
    training = meta.get("training") if isinstance(meta.get("training"), dict) else {}
    clean = shareable_summary(training, None, private=private)
    if clean == training and not (private and "copy_index" in meta):
        return False

    def change(tensors: dict, meta: dict) -> None:
        meta["training"] = clean
        if private:
            take_copy_index(tensors, meta)
    rewrite_model_file(path, change)
    return True


def main(argv: list[str] | None = None) -> int:
    from composer.errors import ComposerError
    parser = argparse.ArgumentParser(prog="python -m training.scrub", description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--private", action="store_true",
                        help="also remove the folder names and the copy index (the training files' names and notes)")
    args = parser.parse_args(argv)
    try:
        for model in args.models:
            changed = scrub(model, private=args.private)
            print(f"{model}: {'rewritten' if changed else 'already clean'}", file=sys.stderr)
    except ComposerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
