"""Rendered examples of a harmoniser for the docs:
`python -m tools.harmonize_examples HARMONIZER.model MELODY.model OUT --chorales A.mid,B.mid [--seeds 1,2]`
(offscreen is fine: `QT_QPA_PLATFORM=offscreen`).

Each chorale's soprano is harmonised (its own alto, tenor and bass are
dropped), and each seed's 16-bar melody from MELODY.model (generate's
defaults) is harmonised, with harmonize's defaults. Each piece is written as
NAME.mid, NAME.ogg (the bundled SoundFont) and NAME.png (the app's piano roll,
a colour per part), plus index.md: a table of the files with each piece's
chord-tone share on strong beats, parallel fifths and octaves and voice
crossings per bar (composer.analysis.harmony_stats).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from composer.analysis.harmony_stats import chord_tone_share, crossings_per_bar, parallels_per_bar
from composer.model.modelfile import load_model
from composer.music.midifile import read_midi, song_to_bytes
from composer.services.generate import GenerateRequest, generate
from composer.services.harmonize import HarmonizeRequest, harmonize
from composer.sound.export import write_audio
from tools.examples import BARS, _roll_png


def render(harmonizer, melody_song, name: str, seed: int, out: Path) -> dict:
    """One harmonised piece: NAME.mid/.ogg/.png in `out`; returns its row of the index."""
    result = harmonize(harmonizer, melody_song, HarmonizeRequest(count=1, seed=seed))
    song, arrangement = result.songs[0], result.arrangements[0]
    (out / f"{name}.mid").write_bytes(song_to_bytes(song))
    write_audio(song, out / f"{name}.ogg", audio_format="ogg", force=True)
    _roll_png(song, [], out / f"{name}.png")
    config = harmonizer.tokenizer.config
    fifths, octaves = parallels_per_bar([arrangement], config)
    return {"name": name, "seed": seed, "chord_tones": chord_tone_share([arrangement], config),
            "fifths": fifths.mean, "octaves": octaves.mean, "crossings": crossings_per_bar([arrangement], config).mean,
            "kb": (out / f"{name}.ogg").stat().st_size / 1000}


def soprano_only(song):
    """The chorale's top part alone: what a user would bring to be harmonised."""
    top = max((t for t in song.tracks if t.notes and not t.is_drum), key=lambda t: sum(n.pitch for n in t.notes)
              / len(t.notes))
    return replace(song, tracks=[top])


def index(rows: list[dict], harmonizer: Path) -> str:
    lines = ["# Examples: the default harmoniser", "",
             f"`{harmonizer.name}` with harmonize's defaults: two chorale melodies it was not trained on (their "
             "soprano only) and two 16-bar melodies of the default melody model. Made with "
             "`python -m tools.harmonize_examples`.", "",
             "| piece | seed | chord tones on strong beats | parallel 5ths / 8ves per bar | crossings per bar | "
             "audio | roll |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| [{r['name']}.mid]({r['name']}.mid) | {r['seed']} | {r['chord_tones']:.0%} | "
                     f"{r['fifths']:.2f} / {r['octaves']:.2f} | {r['crossings']:.2f} | "
                     f"[ogg]({r['name']}.ogg) ({r['kb']:.0f} KB) | ![{r['name']}]({r['name']}.png) |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.harmonize_examples", description=__doc__.split("\n")[0])
    parser.add_argument("harmonizer", type=Path)
    parser.add_argument("melody", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--chorales", default="", help="comma list of four-part MIDI files (held-out chorales)")
    parser.add_argument("--seeds", default="1,2", help="comma list of seeds for generated melodies")
    args = parser.parse_args(argv)
    harmonizer, melody_model = load_model(args.harmonizer), load_model(args.melody)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for k, path in enumerate(p for p in args.chorales.split(",") if p):
        rows.append(render(harmonizer, soprano_only(read_midi(path)), Path(path).stem, k + 1, args.out))
    for seed in [int(s) for s in args.seeds.split(",") if s]:
        melody = generate(melody_model, GenerateRequest(count=1, bars=BARS, seed=seed)).songs[0]
        rows.append(render(harmonizer, melody, f"melody-seed{seed}", seed, args.out))
    (args.out / "index.md").write_text(index(rows, args.harmonizer))
    for r in rows:
        print(f"{r['name']}: chord tones {r['chord_tones']:.0%}, fifths {r['fifths']:.2f}, octaves "
              f"{r['octaves']:.2f}, crossings {r['crossings']:.2f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
