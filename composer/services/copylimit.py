"""Generation that avoids copies: resample the pieces whose copy meter is
above a limit (the CLI's --max-copy and the app's Max copy control)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from composer.analysis.copymeter import copy_meter, copy_meters, generated_notes
from composer.model.copyindex import CopyIndex
from composer.services.generate import generate


@dataclass
class CopyCheck:
    """The copy meter of one generated piece after `limit_copies`."""

    piece: int                 # index in the result
    length: int                # longest shared run, notes
    source: str | None         # training file it occurs in
    attempts: int              # samples drawn for this piece (1 = the first was fine)
    ok: bool                   # length <= max_copy


def limit_copies(loaded, request, result, index: CopyIndex, max_copy: int, *, attempts: int = 4,
                 progress=None, should_stop: Callable[[], bool] | None = None):
    """Resample the pieces of `result` (a GenerationResult for `request`) that
    copy more than `max_copy` consecutive notes from `index`, up to `attempts`
    samples per piece in all. A piece still over the limit after that is kept
    and reported (ok=False). Returns (result with pieces replaced, [CopyCheck]).
    Resampling is reproducible: attempt a uses seed `result.seed + a * 1_000_003`."""
    if max_copy < 0:
        raise ValueError(f"max_copy must be >= 0 notes, got {max_copy}")
    songs, tokens = list(result.songs), list(result.tokens)
    checks = []
    for i, (length, source) in enumerate(copy_meters(songs, index, result.primer_beats)):
        checks.append(CopyCheck(i, length, source, 1, length <= max_copy))
    for attempt in range(1, attempts):
        bad = [c for c in checks if not c.ok]
        if not bad:
            break
        again = replace(request, count=len(bad), seed=(result.seed + attempt * 1_000_003) % 2**63)
        redo = generate(loaded, again, progress=progress, should_stop=should_stop)
        for check, song, toks in zip(bad, redo.songs, redo.tokens):
            length, source = copy_meter(generated_notes(song, redo.primer_beats), index)
            check.attempts += 1
            if length <= max_copy or length < check.length:     # keep the least copying sample
                songs[check.piece], tokens[check.piece] = song, toks
                check.length, check.source, check.ok = length, source, length <= max_copy
    return replace(result, songs=songs, tokens=tokens), checks
