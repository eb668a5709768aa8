"""Rendered examples of two melody models side by side, for the docs:
`python -m tools.examples OLD.model NEW.model docs/examples [--seeds 1,2,3,4]`
(offscreen is fine: `QT_QPA_PLATFORM=offscreen`).

For each seed, 16 bars from each model with its default settings of its day
(the old one: form free and top-p off, generate's defaults then; the new
one: today's defaults), written as NAME.mid, NAME.ogg (Ogg Vorbis, the bundled
SoundFont) and NAME.png (the app's piano roll, with section letters when a
form was planned), plus index.md: a table of the files and each piece's form
statistics (composer.analysis.form).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from composer.analysis.form import form_stats
from composer.model.modelfile import load_model
from composer.music.midifile import song_to_bytes
from composer.services.form_plan import check_form
from composer.services.generate import GenerateRequest, generate
from composer.sound.export import write_audio

BARS = 16


def _roll_png(song, sections, path: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from gui.pianoroll import PianoRoll
    QApplication.instance() or QApplication([])
    roll = PianoRoll()
    roll.resize(1100, 360)
    roll.set_sections(sections)
    roll.set_song(song)
    if len(song.tracks) > 1:            # a colour per part, as the app draws them (gui/parts.py)
        from gui.parts import part_color
        colors = {n: part_color(i, t) for i, t in enumerate(song.tracks) for n in t.notes}
        roll.set_parts(colors, [n for t in song.tracks if t.is_drum for n in t.notes])
    roll.grab().save(str(path))


def render(loaded, name: str, seed: int, out: Path, **settings) -> dict:
    """One piece of the loaded model: NAME.mid/.ogg/.png in `out`; returns its row of the index."""
    request = GenerateRequest(count=1, bars=BARS, seed=seed, **settings)
    request.validate()
    spec = check_form(request)          # (validate checked it; this gives the phrases to draw)
    song = generate(loaded, request).songs[0]
    (out / f"{name}.mid").write_bytes(song_to_bytes(song))
    write_audio(song, out / f"{name}.ogg", audio_format="ogg", force=True)
    _roll_png(song, spec.spans() if spec else [], out / f"{name}.png")
    piece = form_stats([song], bars=BARS).pieces[0]
    return {"name": name, "seed": seed, "form": spec.letters if spec else "free",
            "bar": piece.bar_repetition, "motif": piece.motif_repetition, "range": piece.pitch_range,
            "kb": (out / f"{name}.ogg").stat().st_size / 1000}


def index(rows: list[dict], old: Path, new: Path) -> str:
    lines = ["# Examples: the old and the new melody model", "",
             f"16 bars each, default settings, the same seeds. Old: `{old.name}` (form free, top-p off); "
             f"new: `{new.name}` (form auto = ABAC of 4-bar phrases with second endings, top-p 0.95). Made with "
             "`python -m tools.examples OLD NEW docs/examples`.", "",
             "| piece | seed | form | bar repetition | motif repetition | range | audio | roll |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| [{r['name']}.mid]({r['name']}.mid) | {r['seed']} | {r['form']} | {r['bar']:.2f} | "
                     f"{r['motif']:.2f} | {r['range']} | [ogg]({r['name']}.ogg) ({r['kb']:.0f} KB) | "
                     f"![{r['name']}]({r['name']}.png) |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.examples", description=__doc__.split("\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", default="1,2,3,4")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    old, new = load_model(args.old), load_model(args.new)
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        rows.append(render(old, f"old-{seed}", seed, args.out, form="free", top_p=1.0))
        rows.append(render(new, f"new-{seed}", seed, args.out))
    (args.out / "index.md").write_text(index(rows, args.old, args.new))
    return 0


if __name__ == "__main__":
    sys.exit(main())
