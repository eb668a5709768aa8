"""The recipe for the shipped models: anyone can rerun it.

    python -m training.default_models                  # every recipe -> composer/assets/NAME.model + NAME.md
    python -m training.default_models --only polyphonic --minutes 10 --work /tmp/composer-default

1. Converts music21's bundled public-domain collections to MIDI with
   training.corpus: the folk collections (O'Neill's 1850, Ryan's Mammoth,
   Aird's Airs, misc. folk) for the melody model, the Bach chorales for the
   polyphonic one (never the `essenFolksong` or `nottingham-dataset`
   folders: those are kept for independent evaluation).
2. Trains with the trainer's defaults (chosen by measurement, see
   docs/training.md) for a wall-clock budget.
3. Writes the model file and its model card (data, licence, settings, steps,
   validation bits per note, training time and machine).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
from pathlib import Path

from composer.assets import assets_dir
from composer.model.modelfile import read_metadata

ASSETS = assets_dir()

COLLECTIONS = {
    "airdsAirs": "James Aird, *A Selection of Scotch, English, Irish and Foreign Airs* (1782-1797)",
    "miscFolk": "music21's miscellaneous folk files",
    "bach": "J. S. Bach's four-part chorales (music21's `bach` collection)",
    "oneills1850": "Francis O'Neill, *The Music of Ireland* (1903; music21's `oneills1850` collection)",
    "ryansMammoth": "William Bradbury Ryan, *Ryan's Mammoth Collection* (1883)",
}

POSITION_INPUT = {"melody": "the position in the bar",
                  "frames": "the pitch of the frame before that would come next and the step in the beat"}

# the settings every recipe was trained with before train's defaults changed (docs/defaults.md):
# pinned, so that a recipe still makes the model it shipped
RECIPE_OPTIMISER = {"lr": 6e-3, "warmup_steps": 100, "decay_share": 1.0}

RECIPES = {
    "melody": {
        "corpus": "folk",
        "representation": "melody",
        "title": "Folk melody model",
        # lookback inputs 1, 2, 4, 8 bars back and a copy gate: the design that learned to repeat (docs/form.md)
        "settings": {"lookback": (1, 2, 4, 8), "lookback_copy": True, "batch": 16, "seq_len": 256, "dropout": 0.4,
                     **RECIPE_OPTIMISER},
        "steps": 2100,
        "data": ("music21's bundled folk collections converted to MIDI by `training/corpus.py` (repeats "
                 "expanded, pickups aligned to the bar line). music21's `essenFolksong` and "
                 "`nottingham-dataset` folders were NOT used."),
        "licence": ("The tunes are traditional and their printed sources are in the public domain "
                    "(published before 1900); music21's corpus distributes these transcriptions for free use. "
                    "The model file is released under the project's MIT licence."),
    },
    "bach-harmonizer": {
        "corpus": "bach",
        "representation": "melody",
        "title": "Bach chorale harmoniser",
        "use": ("`python -m composer harmonize default SONG.mid`, `generate --accompany default` and the app's "
                "Harmonise use it: it writes alto, tenor, bass and a chord label per beat under a melody."),
        "metric": "bits per beat (chord label and the three voices' steps)",
        # small and fast: a 1x128 recurrent decoder reached 0.7 bits per chord label under the baselines in 5 minutes
        "settings": {"objective": "accompany", "accompany_voices": ("alto", "tenor", "bass"), "hidden": 128,
                     "layers": 1, "embed": 64, "batch": 8, "seq_len": 128, "dropout": 0.2, **RECIPE_OPTIMISER},
        "steps": 2000,
        "data": ("The Bach chorales of music21's corpus, converted to four-part MIDI by `training/corpus.py` "
                 "(the soprano is the melody; alto, tenor and bass are the parts; chord labels by template "
                 "matching over all four voices)."),
        "licence": ("J. S. Bach's chorale harmonisations (before 1750) are in the public domain; music21's corpus "
                    "distributes these encodings for free use. The model file is released under the project's "
                    "MIT licence."),
    },
    "polyphonic": {
        "corpus": "bach",
        "representation": "frames",
        "title": "Bach chorale model (four voices)",
        "use": ("Pick it in the app's model list, or `python -m composer generate --model "
                "composer/assets/polyphonic.model --bars 8`: all four voices on a sixteenth-note grid."),
        "settings": {"batch": 16, "seq_len": 256, "dropout": 0.4, **RECIPE_OPTIMISER},
        "steps": 2300,         # the shipped run: 40 minutes on a shared 2-core CPU, 2,329 steps
        "data": ("The chorales of music21's `bach` collection converted to MIDI by `training/corpus.py` "
                 "(one track per voice, pickups aligned to the bar line)."),
        "licence": ("Bach's chorale harmonisations (18th century) are in the public domain; music21's corpus "
                    "distributes these encodings for free use. The model file is released under the project's "
                    "MIT licence."),
    },
}


def machine_description() -> str:
    import torch

    from composer.model.device import cpu_name
    return (f"{os.cpu_count()} CPU core(s), {cpu_name()}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, torch {torch.__version__} "
            f"(machine shared with other jobs, so a quiet machine trains faster)")


def collections_in(folder: Path) -> dict[str, int]:
    """Tunes per source collection, from the converter's file names."""
    from collections import Counter
    return dict(sorted(Counter(p.name.split("_")[0] for p in Path(folder).glob("*.mid")).items()))


def model_card(name: str, model_path: Path, conversion: dict | None, command: str,
               collections: dict[str, int] | None = None) -> str:
    recipe = RECIPES[name]
    meta = read_metadata(model_path)
    t, m = meta["training"], meta["model"]
    cfg, corpus = t["train_config"], t["corpus"]
    size_mb = model_path.stat().st_size / 1e6
    val = t.get("val_bits_per_note")
    lines = [
        f"# {recipe['title']} (`composer/assets/{model_path.name}`)", "",
        f"A {m['cell'].upper()} {m['num_layers']}x{m['hidden_size']} ({t['parameters'] / 1e6:.2f}M parameters, "
        f"{size_mb:.1f} MB) over the **{meta['representation']['kind']}** representation"
        + (f", with {POSITION_INPUT.get(meta['representation']['kind'], POSITION_INPUT['melody'])} as an extra input"
           if m.get("position_classes", 0) > 1 else "")
        + (f", lookback inputs {', '.join(map(str, m['lookback']))} bars back" if m.get("lookback") else "")
        + (" and a copy gate" if m.get("lookback_copy") else "") + ".",
        recipe.get("use", "`python -m composer generate` uses it when no `--model` is given."), "",
        "## Data", recipe["data"], "",
        *[f"- {n} pieces from {COLLECTIONS.get(k, k)}" for k, n in (collections or {}).items()],
        f"- files used: {corpus['files_used']} ({corpus['notes']:,} notes, {corpus['tokens']:,} tokens), "
        f"skipped: {corpus['files_skipped']}",
        f"- split by file (seed {cfg['seed']}): {corpus['train_files']} training, {corpus['val_files']} validation",
    ]
    copies = meta.get("copy_index")
    if copies:
        lines.append(f"- copy meter: the notes (pitch and rhythm) of the {len(copies['names'])} files "
                     f"({copies['notes']:,} notes) are stored in the model file, so the app, `generate --max-copy` "
                     "and `eval` show how much of a piece is in the training data without the folder")
    if conversion:
        lines.append(f"- conversion: {len(conversion.get('written', [])) + len(conversion.get('reused', []))} "
                     f"tunes written, {len(conversion.get('skipped', []))} tunes music21 could not convert")
    lines += ["", "## Licence", recipe["licence"], "",
              "## Settings",
              f"cell {cfg['cell']}, layers {cfg['layers']}, hidden {cfg['hidden']}, embedding {cfg['embed']}, "
              f"dropout {cfg['dropout']}, batch {cfg['batch']} x {cfg['seq_len']} tokens "
              f"({cfg.get('batching', 'chunks')}), "
              f"AdamW lr {cfg['lr']} (warm-up {cfg['warmup_steps']} steps, {_decay(cfg)}), "
              f"clip {cfg['clip']}, transposition {t.get('transpose', cfg['transpose'])} semitones, "
              f"validation share {cfg['val_share']}, seed {cfg['seed']}.", "",
              "## Result",
              f"- validation: **{val:.3f} {recipe.get('metric', 'bits per note')}** "
              f"(best, at step {t.get('best_step')})" if val is not None
              else "- validation: none",
              *([f"- of which: {t['val_bits_per_chord']:.3f} bits per chord label, "
                 f"{t['val_bits_per_voice_note']:.3f} bits per voice note"] if "val_bits_per_chord" in t else []),
              *([f"- the training chorales' parallel fifths and octaves: {t['folder_style']['parallels_per_bar']} "
                 "a bar, so harmonize avoids them by default (`--parallels auto`)"]
                if (t.get("folder_style") or {}).get("parallels_per_bar") is not None else []),
              f"- steps: {t['steps']} ({t['epochs']} epochs), stopped by: {t['stopped_reason']}",
              f"- training time: {t['minutes']} minutes on {t['device']}",
              f"- machine: {machine_description()}",
              f"- trained {meta.get('created', '')} with: `{command}`", ""]
    return "\n".join(lines)


def build(name: str, *, work: Path, minutes: float | None, steps: int | None, limit: int | None, workers: int,
          force: bool, extra: dict) -> Path:
    from training.corpus import convert_corpus
    from training.trainer import TrainConfig, train
    recipe = RECIPES[name]
    folder = work / recipe["corpus"]
    conversion = convert_corpus(recipe["corpus"], folder, workers=workers, limit=limit)
    out = ASSETS / f"{name}.model"
    config = TrainConfig(folder=str(folder), out=str(out), representation=recipe["representation"],
                         minutes=minutes, steps=steps, force=force, checkpoint_dir=str(work / f"{name}.train"),
                         report=str(work / f"{name}.ingest.json"), cache_dir=str(work / "cache"),
                         workers=workers, **{**recipe.get("settings", {}), **extra})
    train(config, progress=_Printer())
    command = "python -m training.default_models " + " ".join(sys.argv[1:])
    card = model_card(name, out, conversion.to_dict(), command.strip(), collections_in(folder))
    (ASSETS / f"{name}.md").write_text(card)
    return out


class _Printer:
    """Minimal progress for a long unattended run (one line per validation)."""

    def __init__(self):
        self.last_val = None

    def __call__(self, progress) -> None:
        p = progress.info                    # a training.config.TrainProgress
        if p.report is not None and self.last_val is None:
            self.last_val = -1.0
            print("\n".join(p.report.summary_lines()[:2]), file=sys.stderr, flush=True)
        if p.val_bits_per_note is not None and p.val_bits_per_note != self.last_val:
            self.last_val = p.val_bits_per_note
            print(f"{_dt.datetime.now():%H:%M:%S} step {p.step} epoch {p.epoch:.2f} loss {p.train_loss:.3f} "
                  f"val {p.val_bits_per_note:.3f} bits/note (best {p.best_val_bits_per_note:.3f}) "
                  f"{p.tokens_per_s:,.0f} tok/s", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.default_models", description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=sorted(RECIPES), default=None)
    parser.add_argument("--work", type=Path, default=Path("runs/default-models"), help="corpus, cache, checkpoints")
    parser.add_argument("--minutes", type=float, default=None, help="wall-clock budget per model")
    parser.add_argument("--steps", type=int, default=None, help="step budget per model (machine-independent; "
                        "default: the recipe's, else 10 minutes)")
    parser.add_argument("--limit", type=int, default=None, help="only N tunes, spread evenly over the "
                        "collection's books (in file-name order), for a quicker run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-force", action="store_true", help="refuse to replace existing assets")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    for name in ([args.only] if args.only else sorted(RECIPES)):
        steps = args.steps if args.steps is not None or args.minutes is not None else RECIPES[name].get("steps")
        minutes = args.minutes if args.minutes is not None or steps is not None else 10.0
        out = build(name, work=args.work, minutes=minutes, steps=steps, limit=args.limit,
                    workers=args.workers, force=not args.no_force, extra={"seed": args.seed})
        print(f"wrote {out} and {out.with_suffix('.md')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _decay(cfg: dict) -> str:
    share = cfg.get("decay_share", 1.0)
    if not share:
        return "no decay"
    return f"cosine to {cfg['min_lr_ratio']} x lr" + ("" if share == 1.0 else f" over the last {share:.0%} of the run")
