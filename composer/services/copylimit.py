"""Generation with its copy meter: each piece's longest run of notes shared
with the training data, and, with a copy limit (the CLI's --max-copy and the
app's Max copy control, `GenerateRequest.max_copy`), the pieces above it
sampled again. `generate_checked` is what both front ends run."""
from __future__ import annotations

from dataclasses import dataclass, replace

from composer.analysis.copymeter import copy_meter, copy_meters, generated_notes, index_for_model
from composer.errors import ComposerError, ModelFileError
from composer.model.copyindex import CopyIndex
from composer.services.generate import GenerateRequest, GenerationResult, Plan, generate
from composer.tasks import ProgressFn, ShouldStop, relabel


@dataclass
class CopyCheck:
    """The copy meter of one generated piece after `limit_copies`."""

    piece: int                 # index in the result
    length: int                # longest shared run, notes
    source: str | None         # training file it occurs in
    attempts: int              # samples drawn for this piece (1 = the first was fine)
    ok: bool                   # length <= max_copy


@dataclass
class CheckedGeneration:
    """A generation and its copy meter."""

    result: GenerationResult
    index: CopyIndex | None                       # what the pieces were compared with; None: nothing
    copies: list[tuple[int, str | None]] | None   # each piece's (longest shared run, source file)
    checks: list[CopyCheck] | None = None         # with a copy limit: what became of each piece


def copy_index_for(loaded, request: GenerateRequest, *, meter: bool = False) -> CopyIndex | None:
    """What to compare generated pieces with. With `request.max_copy`: the
    index of `request.copy_folder`, else the model's (stored, or of its
    training folder); raises ComposerError when there is none, before any
    sampling. Without: the index stored in the model file when `meter` is
    asked for (None if it has none or a damaged one: that costs the meter,
    not the music), else None."""
    if request.max_copy is None:
        if not meter:
            return None
        try:
            return loaded.copy_index()
        except ModelFileError:
            return None
    try:
        return index_for_model(loaded, folder=request.copy_folder)
    except ComposerError as exc:
        if request.copy_folder is not None:
            raise
        raise ComposerError(f"{exc} as a copy folder (--copy-folder DIR), or store it once: "
                            "composer copy-index MODEL DIR") from None


def generate_checked(loaded, request: GenerateRequest, index: CopyIndex | None = None, *, plan: Plan | None = None,
                     progress: ProgressFn | None = None, should_stop: ShouldStop | None = None) -> CheckedGeneration:
    """`generate`, then the copy meter of each piece against `index` (from
    `copy_index_for`; None: no meter), and with `request.max_copy` the pieces
    above it sampled again (`limit_copies`, reported in the stage "sampling again")."""
    result = generate(loaded, request, progress=progress, should_stop=should_stop, plan=plan)
    if index is None:
        return CheckedGeneration(result, None, None)
    if request.max_copy is None:
        return CheckedGeneration(result, index, copy_meters(result.songs, index, result.primer_beats))
    result, checks = limit_copies(loaded, request, result, index, request.max_copy,
                                  progress=relabel(progress, "sampling again", partial=None), should_stop=should_stop)
    return CheckedGeneration(result, index, [(c.length, c.source) for c in checks], checks)


def limit_copies(loaded, request, result, index: CopyIndex, max_copy: int, *, attempts: int = 4,
                 progress: ProgressFn | None = None, should_stop: ShouldStop | None = None):
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
