"""Ingestion of a user's MIDI folder: statuses and reasons, cache, cancel, containment."""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from benchmarks.midi_factory import HOSTILE, band, drums_only, karaoke_bytes, melody, no_notes, write_song
from composer.corpus.ingest import IngestReport, find_midi_files, parse_and_encode, reason_kind, scan_folder
from composer.errors import Cancelled, ComposerError
from composer.music.midifile import read_midi
from composer.representations.melody import MelodyConfig, MelodyTokenizer
from composer.representations.performance import PerformanceTokenizer

# relative path -> (status, reason substring) for the mixed folder
EXPECTED = {
    "Band.mid": ("used", ""),
    "broken/random.mid": ("skipped", "corrupt: not a MIDI file"),
    "broken/stray_byte.mid": ("skipped", "corrupt: a data byte (0x3C) where an event should start"),
    "broken/truncated.mid": ("used", ""),           # up to the damage
    "drums.mid": ("skipped", "drums only"),
    "empty.midi": ("skipped", "corrupt: empty file"),
    "five_eight.mid": ("used", ""),
    "long_bars.mid": ("skipped", "unsupported time signature 9/1: a bar longer than 8 whole notes"),
    "jig_6_8.mid": ("used", ""),
    "melodies/a.mid": ("used", ""),
    "melodies/b.midi": ("used", ""),
    "melodies/nested/deeper/LOUD.MID": ("used", ""),
    "silence.mid": ("skipped", "no notes"),
    "singalong.kar": ("used", ""),
    "short.mid": ("skipped", "too short (3 melody notes, need 8)"),
}


def build_mixed_folder(root: Path) -> Path:
    write_song(band(4, seed=1), root / "Band.mid")
    (root / "broken").mkdir()
    (root / "broken/random.mid").write_bytes(HOSTILE["random_bytes"].build())
    (root / "broken/truncated.mid").write_bytes(HOSTILE["truncated_track"].build())
    (root / "broken/stray_byte.mid").write_bytes(HOSTILE["running_status_without_status"].build())
    write_song(drums_only(), root / "drums.mid")
    (root / "empty.midi").write_bytes(b"")
    write_song(melody(20, time_signature=(5, 8)), root / "five_eight.mid")
    write_song(melody(20, seed=8, time_signature=(9, 1)), root / "long_bars.mid")
    write_song(melody(24, seed=3, time_signature=(6, 8), step=0.5), root / "jig_6_8.mid")
    write_song(melody(32, seed=4), root / "melodies/a.mid")
    write_song(melody(16, seed=5, tempo=90), root / "melodies/b.midi")
    write_song(melody(12, seed=6), root / "melodies/nested/deeper/LOUD.MID")
    write_song(no_notes(), root / "silence.mid")
    (root / "singalong.kar").write_bytes(karaoke_bytes(16))
    write_song(melody(3, seed=7), root / "short.mid")
    (root / "notes.txt").write_text("not music")
    (root / "melodies/cover.jpg").write_bytes(b"\xff\xd8")
    return root


@pytest.fixture
def mixed(tmp_path):
    return build_mixed_folder(tmp_path / "music")


def scan(folder, tokenizer=None, **kw):
    kw.setdefault("cache_dir", folder.parent / "cache")
    kw.setdefault("workers", 2)
    return scan_folder(folder, tokenizer or MelodyTokenizer(), **kw)


def new_children(before: set[int], settle_s: float = 5.0) -> set[int]:
    """Children started since `before` that are still alive, after giving exiting
    workers up to `settle_s` to be reaped (other tests in the same session may own
    long-lived children such as audio servers, so only new ones count)."""
    deadline = time.monotonic() + settle_s
    while True:
        left = set(child_pids()) - before
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def child_pids() -> list[int]:
    """Live child processes of this process (Linux /proc)."""
    me, out = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == me and fields[0] != "Z":
                out.append(int(entry.name))
    return out


def test_every_file_gets_its_status_and_reason(mixed):
    corpus = scan(mixed)
    report = corpus.report
    assert [f.path for f in report.files] == sorted(EXPECTED)
    for result in report.files:
        status, reason = EXPECTED[result.path]
        assert (result.status, reason in result.reason) == (status, True), result
        if status == "used":
            assert result.reason == "" and result.n_notes > 0 and len(result.sha256) == 64
            assert bool(result.damage) == (result.path == "broken/truncated.mid"), result
        else:
            assert result.n_notes == 0 and result.n_tokens == 0
    assert sorted(corpus.sequences) == sorted(p for p, (s, _) in EXPECTED.items() if s == "used")


def test_tokens_are_those_of_the_core_reader_and_tokenizer(mixed):
    tokenizer = MelodyTokenizer()
    corpus = scan(mixed, tokenizer)
    for result in corpus.report.used():
        encoded = tokenizer.encode(read_midi(mixed / result.path))
        assert corpus.sequences[result.path] == encoded.tokens
        assert (result.n_tokens, result.n_notes, result.source) == (len(encoded.tokens), encoded.n_notes,
                                                                     encoded.source)


def test_melody_is_taken_from_the_top_voice_of_a_band(mixed):
    band_result = next(f for f in scan(mixed).report.files if f.path == "Band.mid")
    assert band_result.source == "track 1 'Melody' (program 0)"


def test_performance_representation_takes_all_pitched_tracks(mixed):
    report = scan(mixed, PerformanceTokenizer()).report
    band_result = next(f for f in report.files if f.path == "Band.mid")
    assert band_result.status == "used" and band_result.source == "2 pitched track(s) merged"
    assert next(f for f in report.files if f.path == "long_bars.mid").status == "used"   # no meter limits


def test_second_scan_parses_nothing_and_gives_the_same_report(mixed):
    first = scan(mixed)
    second = scan(mixed)
    assert (first.report.parsed, first.report.cache_hits) == (len(EXPECTED), 0)
    assert (second.report.parsed, second.report.cache_hits) == (0, len(EXPECTED))
    strip = [dict(f.__dict__, seconds=0) for f in first.report.files]
    assert strip == [dict(f.__dict__, seconds=0) for f in second.report.files]
    assert second.sequences == first.sequences


def test_files_looked_up_a_few_at_a_time_give_the_same_reports(mixed, monkeypatch):
    import composer.corpus.cache
    import composer.corpus.ingest
    first, second = scan(mixed), scan(mixed)
    monkeypatch.setattr(composer.corpus.ingest, "LOOKUP_FILES", 3)
    monkeypatch.setattr(composer.corpus.cache, "LOOKUP_BATCH", 2)
    small_cache = mixed.parent / "cache_small"
    small_first, small_second = scan(mixed, cache_dir=small_cache), scan(mixed, cache_dir=small_cache)
    assert (small_second.report.parsed, small_second.report.cache_hits) == (0, len(EXPECTED))
    strip = [dict(f.__dict__, seconds=0) for f in first.report.files]
    assert [dict(f.__dict__, seconds=0) for f in small_first.report.files] == strip
    assert [dict(f.__dict__, seconds=0) for f in small_second.report.files] == strip
    assert small_second.sequences == second.sequences


def test_cache_is_keyed_by_content_and_tokenizer_config(mixed):
    scan(mixed)
    write_song(melody(40, seed=99), mixed / "melodies/a.mid")        # new content, same name
    (mixed / "melodies/b.midi").rename(mixed / "melodies/b_renamed.midi")   # same content, new name
    again = scan(mixed)
    assert again.report.parsed == 1
    assert next(f for f in again.report.files if f.path == "melodies/a.mid").n_notes == 40
    other_config = scan(mixed, MelodyTokenizer(MelodyConfig(steps_per_quarter=2)))
    assert other_config.report.parsed == len(EXPECTED)


def test_progress_reports_every_file(mixed):
    calls = []
    scan(mixed, progress=lambda p: calls.append((p.done, p.total, p.message, p.unit, p.stage)))
    assert [c[0] for c in calls] == list(range(1, len(EXPECTED) + 1))
    assert {c[1] for c in calls} == {len(EXPECTED)}
    assert sorted(c[2] for c in calls) == sorted(EXPECTED)
    assert {c[3:] for c in calls} == {("file", "scanning")}


def test_report_summary_and_json_round_trip(mixed, tmp_path):
    report = scan(mixed).report
    lines = report.summary_lines()
    assert lines[0].startswith(f"{len(EXPECTED)} MIDI file(s) in {mixed}: 8 used")
    for result in report.skipped():
        assert f"  {result.path}: {result.reason}" in lines
    assert lines[1] == "skipped: 3 corrupt, 1 drums only, 1 unsupported time signature, 1 too short, 1 no notes"
    path = report.save_json(tmp_path / "report.json")
    assert IngestReport.load_json(path) == report


def test_reason_kind():
    assert reason_kind("corrupt: truncated at byte 9 (in track 1)") == "corrupt"
    assert reason_kind("too short (3 melody notes, need 8)") == "too short"
    assert reason_kind("unsupported time signature 5/8") == "unsupported time signature"
    assert reason_kind("melody pitch 127 is outside the range 36..96") == "melody pitch is outside the range"
    assert reason_kind("timed out after 10 s") == "timed out"
    assert reason_kind("parser crashed (killed by SIGSEGV)") == "parser crashed"


def test_identical_files_and_links_are_skipped_as_duplicates_of_the_first(tmp_path):
    folder = tmp_path / "music"
    write_song(melody(20, seed=1), folder / "waltz_34.mid")
    write_song(melody(20, seed=2), folder / "reel.mid")
    (folder / "a_copy.mid").write_bytes((folder / "waltz_34.mid").read_bytes())   # sorts first, still a copy
    (folder / "sub").mkdir()
    (folder / "sub/again.mid").write_bytes((folder / "waltz_34.mid").read_bytes())
    (folder / "link.mid").symlink_to("waltz_34.mid")
    (folder / "0_link.mid").symlink_to("reel.mid")                 # a link is never kept over its target
    corpus = scan(folder)
    reasons = {f.path: f.reason for f in corpus.report.files}
    assert reasons == {"0_link.mid": "duplicate of reel.mid", "a_copy.mid": "", "link.mid": "duplicate of a_copy.mid",
                       "reel.mid": "", "sub/again.mid": "duplicate of a_copy.mid",
                       "waltz_34.mid": "duplicate of a_copy.mid"}
    assert sorted(corpus.sequences) == ["a_copy.mid", "reel.mid"]
    assert corpus.report.summary_lines()[1] == "skipped: 4 duplicate"
    assert reason_kind("duplicate of folk/tune 1.mid") == "duplicate"
    again = scan(folder)                               # from the cache: the same outcome
    assert {f.path: f.reason for f in again.report.files} == reasons and again.report.parsed == 0


def test_a_linked_folder_is_scanned_and_a_loop_is_scanned_once(tmp_path):
    folder, elsewhere = tmp_path / "music", tmp_path / "elsewhere"
    write_song(melody(20, seed=1), folder / "mine.mid")
    write_song(melody(20, seed=2), elsewhere / "theirs.mid")
    (folder / "borrowed").symlink_to(elsewhere, target_is_directory=True)
    (folder / "a_loop").symlink_to(folder, target_is_directory=True)         # sorts before mine.mid
    (elsewhere / "back").symlink_to(folder, target_is_directory=True)
    assert [p.relative_to(folder).as_posix() for p in find_midi_files(folder)] == ["borrowed/theirs.mid", "mine.mid"]
    assert sorted(scan(folder).sequences) == ["borrowed/theirs.mid", "mine.mid"]


def test_find_midi_files_is_sorted_and_case_insensitive(mixed):
    names = [p.relative_to(mixed).as_posix() for p in find_midi_files(mixed)]
    assert names == sorted(EXPECTED)


def test_missing_folder_is_one_clear_error(tmp_path):
    with pytest.raises(ComposerError, match="no such folder"):
        scan_folder(tmp_path / "nope", MelodyTokenizer(), cache_dir=tmp_path / "cache")


def test_empty_folder_gives_an_empty_report_and_starts_no_worker(tmp_path):
    (tmp_path / "music").mkdir()
    corpus = scan(tmp_path / "music")
    assert corpus.report.files == [] and corpus.sequences == {} and corpus.report.parsed == 0


# ---------------------------------------------------------------- containment

def crashing_parse(data, tokenizer, limits):
    """The production parse function, except for files holding a marker."""
    if data.startswith(b"SEGFAULT"):
        ctypes.string_at(0)            # a real segmentation fault in C code
    if data.startswith(b"ABORT"):
        os.abort()
    if data.startswith(b"HANG"):
        time.sleep(60)
    if data.startswith(b"BUG"):
        raise ValueError("a bug in the parser")
    return parse_and_encode(data, tokenizer, limits)


def slow_parse(data, tokenizer, limits):
    time.sleep(0.3)
    return parse_and_encode(data, tokenizer, limits)


@pytest.mark.parametrize("workers", [1, 2])
def test_crashes_hangs_and_bugs_are_contained(mixed, workers):
    (mixed / "a_segfault.mid").write_bytes(b"SEGFAULT")
    (mixed / "b_abort.mid").write_bytes(b"ABORT")
    (mixed / "c_hang.mid").write_bytes(b"HANG")
    (mixed / "d_bug.mid").write_bytes(b"BUG")
    before = set(child_pids())
    corpus = scan(mixed, parse=crashing_parse, timeout_s=1.0, workers=workers)
    by_path = {f.path: f for f in corpus.report.files}
    assert by_path["a_segfault.mid"].reason == "parser crashed (killed by SIGSEGV)"
    assert by_path["b_abort.mid"].reason == "parser crashed (killed by SIGABRT)"
    assert by_path["c_hang.mid"].reason == "timed out after 1 s"
    assert by_path["d_bug.mid"].reason == "internal error: ValueError: a bug in the parser"
    for path, (status, reason) in EXPECTED.items():          # every other file still got its verdict
        assert by_path[path].status == status and reason in by_path[path].reason
    assert new_children(before) == set() and multiprocessing.active_children() == []
    # crashes and time-outs are not cached: they depend on the run, not on the file
    again = scan(mixed, parse=crashing_parse, timeout_s=1.0, workers=workers)
    assert again.report.parsed == 4 and again.report.cache_hits == len(EXPECTED)


@pytest.mark.parametrize("marker, reason", [(b"SEGFAULT", "parser crashed (killed by SIGSEGV)"),
                                            (b"HANG", "timed out after 1 s")])
def test_a_crash_or_hang_in_the_middle_of_a_batch_costs_only_that_file(tmp_path, marker, reason):
    """Small files go to a worker many to a message and their results come back together: the
    file in the parser when the worker is lost is the one reported, the files parsed before it in
    the same batch (whose results died with the worker) and those after it are parsed again."""
    folder = tmp_path / "music"
    for i in range(40):
        write_song(melody(12, seed=i), folder / f"f{i:02d}.mid")
    clean = scan(folder, workers=1, cache_dir=tmp_path / "clean")
    (folder / "f20_bad.mid").write_bytes(marker)          # sorts between f20.mid and f21.mid
    before = set(child_pids())
    corpus = scan(folder, parse=crashing_parse, timeout_s=1.0, workers=1)
    by_path = {f.path: f for f in corpus.report.files}
    assert by_path["f20_bad.mid"].reason == reason
    assert [f.path for f in corpus.report.used()] == [f"f{i:02d}.mid" for i in range(40)]
    assert corpus.sequences == clean.sequences
    assert corpus.report.parsed == 41
    assert new_children(before) == set()


def test_cancel_during_parsing_raises_and_leaves_no_process(mixed):
    calls = []

    def progress(p):
        calls.append(p.done)

    before = set(child_pids())
    with pytest.raises(Cancelled):
        scan(mixed, parse=slow_parse, progress=progress, should_stop=lambda: len(calls) >= 2)
    assert 2 <= len(calls) < len(EXPECTED)
    assert new_children(before, settle_s=0) == set() and multiprocessing.active_children() == []


def test_cancel_before_start_parses_nothing(mixed):
    with pytest.raises(Cancelled):
        scan(mixed, should_stop=lambda: True)
    assert scan(mixed).report.parsed == len(EXPECTED)       # nothing was cached by the cancelled scan


def test_bad_arguments_are_refused(mixed):
    with pytest.raises(ValueError, match="workers"):
        scan(mixed, workers=-1)
    with pytest.raises(ValueError, match="timeout_s"):
        scan(mixed, timeout_s=0)


def test_unwritable_cache_does_not_stop_the_scan(mixed, tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    corpus = scan(mixed, cache_dir=blocker / "cache")
    assert len(corpus.report.used()) == 8 and corpus.report.parsed == len(EXPECTED)


def test_a_damaged_cache_is_replaced_by_a_new_one(mixed, tmp_path, caplog):
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    (cache_dir / "ingest.sqlite").write_bytes(b"not a database, e.g. left half-written by a power cut" * 100)
    first = scan(mixed, cache_dir=cache_dir)
    assert first.report.parsed == len(EXPECTED) and len(first.report.used()) == 8
    assert "was damaged" in caplog.text
    again = scan(mixed, cache_dir=cache_dir)
    assert again.report.cache_hits == len(EXPECTED)
    assert again.sequences == first.sequences


def test_a_file_that_cannot_be_read_is_reported(mixed):
    (mixed / "gone.mid").symlink_to(mixed / "nowhere.mid")
    result = next(f for f in scan(mixed).report.files if f.path == "gone.mid")
    assert (result.status, result.reason, result.sha256) == ("skipped", "unreadable: No such file or directory", "")


def test_a_file_over_the_size_cap_is_not_read(mixed):
    from composer.music.midifile import ReadLimits
    report = scan(mixed, limits=ReadLimits(max_bytes=300)).report
    band_result = next(f for f in report.files if f.path == "Band.mid")
    size = (mixed / "Band.mid").stat().st_size
    assert band_result.reason == f"too large ({size:,} bytes, limit 300)" and band_result.sha256 == ""


def test_spawned_workers_give_the_same_report(mixed, monkeypatch):
    """macOS and Windows spawn workers instead of forking them: same results."""
    import composer.corpus.pool
    forked = scan(mixed, cache_dir=mixed.parent / "cache_fork").report
    monkeypatch.setattr(composer.corpus.pool, "START_METHOD", "spawn")
    spawned = scan(mixed, cache_dir=mixed.parent / "cache_spawn", workers=1).report
    assert [dict(f.__dict__, seconds=0) for f in spawned.files] == [dict(f.__dict__, seconds=0) for f in forked.files]
    assert spawned.parsed == len(EXPECTED)


def test_scan_runs_on_a_worker_thread_as_in_the_gui(mixed):
    import threading
    out = {}
    thread = threading.Thread(target=lambda: out.update(report=scan(mixed).report))
    thread.start()
    thread.join()
    report = out["report"]
    assert [f.path for f in report.files] == sorted(EXPECTED)
    for result in report.files:
        status, reason = EXPECTED[result.path]
        assert result.status == status and reason in result.reason


def test_an_unreadable_folder_is_named_with_the_permission(tmp_path, monkeypatch, capsys):
    """Not "0 files": the scan, the quick check before training and `train` name the permission
    (root reads a chmod 000 folder anyway: then the listing is made to fail as for a user)."""
    from composer.cli.main import main
    from composer.corpus.ingest import require_midi_files
    folder = tmp_path / "locked"
    write_song(melody(64, seed=1), folder / "a.mid")
    folder.chmod(0)
    real_scandir = os.scandir

    def refusing(path="."):
        if os.path.abspath(os.fspath(path)) == str(folder):
            raise PermissionError(13, "Permission denied", str(folder))
        return real_scandir(path)
    monkeypatch.setattr(os, "scandir", refusing)
    message = f"{folder}: cannot read this folder (permission denied); allow reading it or choose another folder"
    try:
        for check in (lambda: scan_folder(folder, MelodyTokenizer(), cache_dir=tmp_path / "cache", workers=1),
                      lambda: require_midi_files(folder)):
            with pytest.raises(ComposerError) as caught:
                check()
            assert str(caught.value) == message
        assert main(["train", str(folder), "--out", str(tmp_path / "m.model"), "--steps", "1", "--quiet"]) == 2
        assert capsys.readouterr().err.strip() == f"error: {message}"
    finally:
        folder.chmod(0o755)


def test_a_folder_without_midi_files_is_refused_by_the_quick_check(tmp_path):
    from composer.corpus.ingest import require_midi_files
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "notes.txt").write_text("not music")
    with pytest.raises(ComposerError, match=r"empty: no usable MIDI files \(no \.mid/\.midi files found\)$"):
        require_midi_files(tmp_path / "empty")
    write_song(melody(64, seed=2), tmp_path / "empty" / "sub" / "deep.MID")
    require_midi_files(tmp_path / "empty")
