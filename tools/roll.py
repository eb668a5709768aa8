"""Piano-roll pictures of MIDI files, drawn by the app's roll, to look at what
a model wrote: `python -m tools.roll FILE.mid ... --out DIR` writes DIR/NAME.png
for each file (offscreen is fine: `QT_QPA_PLATFORM=offscreen`)."""
from __future__ import annotations

import argparse
from pathlib import Path

from composer.music.midifile import read_midi
from tools.examples import _roll_png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.roll", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="MIDI files")
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNG files (made if missing)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.files:
        target = args.out / f"{path.stem}.png"
        _roll_png(read_midi(path), [], target)
        print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
