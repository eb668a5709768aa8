"""How a melody model's pieces sit on a chord progression, with and without
`generate --chords`: `python -m tools.lead_chords [MODEL] --chords "Am F C G"
--bars 16 --count 50 --seed 1 [--png roll.png]`.

Three requests at the same seed, all 4/4 and the default form: over the
chords; in the key the chords imply (--key/--scale only); unconstrained. For
each, the chord-tone share of the notes starting on strong beats, on any
beat and anywhere (measured against the progression, even where it was not
asked for), notes per bar, and each piece's pitch range (semitones), means
over the pieces. --png renders the first piece over the chords as the app's
piano roll (offscreen is fine: QT_QPA_PLATFORM=offscreen).
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from composer.analysis.lead import ChordToneShares, chord_tone_counts, progression_key
from composer.cli.main import DEFAULT_MELODY_MODEL
from composer.model.modelfile import load_model
from composer.music.progression import parse_progression
from composer.music.scales import KEY_NAMES
from composer.services.generate import GenerateRequest, generate


def measure(songs, progression, bars: int) -> dict:
    counts = ChordToneShares()
    per_bar, ranges = [], []
    for song in songs:
        melody = song.tracks[0].notes
        counts.add(chord_tone_counts(melody, progression, (4, 4), bars))
        per_bar.append(len(melody) / bars)
        ranges.append(max(n.pitch for n in melody) - min(n.pitch for n in melody) if melody else 0)
    return {**counts.shares(), "strong_notes": counts.strong, "notes_per_bar": statistics.mean(per_bar),
            "range": statistics.mean(ranges), "range_sd": statistics.pstdev(ranges)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path, default=DEFAULT_MELODY_MODEL)
    parser.add_argument("--chords", default="Am F C G")
    parser.add_argument("--bars", type=int, default=16)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--png", type=Path, default=None)
    args = parser.parse_args(argv)
    loaded = load_model(args.model)
    progression = parse_progression(args.chords)
    tonic, minor = progression_key(progression)
    key = {"key": KEY_NAMES[tonic], "scale": "minor" if minor else "major"}
    base = dict(bars=args.bars, count=args.count, seed=args.seed, time_signature=(4, 4))
    runs = {f"chords {args.chords}": GenerateRequest(chords=args.chords, **base),
            f"key {key['key']} {key['scale']} only": GenerateRequest(**key, **base),
            "unconstrained": GenerateRequest(**base)}
    print(f"{args.model.name}, {args.count} pieces of {args.bars} bars, seed {args.seed}; chord-tone shares "
          "of notes starting on strong beats / any beat / anywhere")
    print(f"{'request':28} {'strong':>7} {'beat':>6} {'all':>6} {'notes/bar':>9} {'range':>11}")
    first = None
    for name, request in runs.items():
        songs = generate(loaded, request).songs
        first = first or songs[0]
        m = measure(songs, progression, args.bars)
        print(f"{name:28} {m['strong']:7.3f} {m['beat']:6.3f} {m['all']:6.3f} {m['notes_per_bar']:9.2f} "
              f"{m['range']:6.1f}±{m['range_sd']:.1f}")
    if args.png:
        from tools.examples import _roll_png
        _roll_png(first, [], args.png)
        print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
