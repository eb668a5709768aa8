"""The texture of polyphonic pieces: how many notes start per second, how
many sound at once, and how long the longest lasts; for a performance model
also how many generated notes decoding ended at its note-length cap.

Voices are counted over the time something sounds (rests do not pull the
mean down): a four-part chorale is near 4, a melody 1. A note that hangs
(a note-on the model never ends) shows as a longest note far above the
folder's.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from composer.music.song import Song


@dataclass(frozen=True)
class Texture:
    pieces: int = 0
    notes_per_second: float | None = None      # note onsets over the sounding span of each piece, pooled
    mean_voices: float | None = None           # notes sounding at once, time-weighted where any sounds
    longest_note_seconds: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _sounding_time(song: Song) -> tuple[float, float, float]:
    """(seconds where any note sounds, note-seconds summed, the longest note in seconds) of one song."""
    edges = []
    longest = 0.0
    for n in song.notes:
        start, end = song.seconds_at(n.start), song.seconds_at(n.end)
        edges += [(start, 1), (end, -1)]
        longest = max(longest, end - start)
    edges.sort()
    covered = weighted = 0.0
    depth, last = 0, 0.0
    for time, step in edges:
        if depth > 0:
            covered += time - last
            weighted += depth * (time - last)
        depth, last = depth + step, time
    return covered, weighted, longest


def texture(songs) -> Texture:
    """The texture of a set of songs (pieces without notes are left out)."""
    notes = pieces = 0
    span = covered = weighted = longest = 0.0
    for song in songs:
        if not song.notes:
            continue
        pieces += 1
        notes += len(song.notes)
        span += song.seconds_at(max(n.end for n in song.notes)) - song.seconds_at(min(n.start for n in song.notes))
        c, w, n_long = _sounding_time(song)
        covered, weighted, longest = covered + c, weighted + w, max(longest, n_long)
    if not pieces:
        return Texture()
    return Texture(pieces=pieces, notes_per_second=notes / span if span > 0 else None,
                   mean_voices=weighted / covered if covered > 0 else None, longest_note_seconds=longest)


def texture_section(tokenizer, generated_tokens, generated_songs, folder_songs) -> dict:
    """{"generated", "folder": Texture dicts} and, for a performance model,
    "capped": {"notes", "capped", "cap_seconds", "longest_uncapped_seconds"}
    over the generated token sequences."""
    out = {"generated": texture(generated_songs).to_dict(), "folder": texture(folder_songs).to_dict()}
    if hasattr(tokenizer, "long_notes"):
        counts = [tokenizer.long_notes(seq) for seq in generated_tokens]
        out["capped"] = {"notes": sum(c[0] for c in counts), "capped": sum(c[1] for c in counts),
                         "cap_seconds": tokenizer.config.max_note_seconds,
                         "longest_uncapped_seconds": max((c[2] for c in counts), default=0.0)}
    return out


def _fmt(value, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def texture_lines(section: dict) -> list[str]:
    """The texture in a few lines of the eval table."""
    if not section:
        return []
    g, f = section["generated"], section["folder"]
    lines = [f"{'texture':<22}{'generated':>11}{'folder':>9}"]
    for label, key, digits in (("notes per second", "notes_per_second", 2), ("voices at once", "mean_voices", 2),
                               ("longest note (s)", "longest_note_seconds", 2)):
        lines.append(f"{label:<22}{_fmt(g.get(key), digits):>11}{_fmt(f.get(key), digits):>9}")
    capped = section.get("capped")
    if capped:
        lines.append(f"notes ended at the {capped['cap_seconds']:g} s cap: {capped['capped']:,} of "
                     f"{capped['notes']:,} generated (longest before the cap "
                     f"{capped['longest_uncapped_seconds']:.2f} s)")
    return lines
