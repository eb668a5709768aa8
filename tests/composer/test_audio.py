"""composer.sound.audio on real FluidSynth renders with the bundled General MIDI SoundFont."""
from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from composer.errors import OutputExistsError
from composer.music.song import Note, Song, Track, melody_song
from composer.sound import audio

RATE = audio.DEFAULT_SAMPLE_RATE


def strongest_hz(samples: np.ndarray, rate: int = RATE) -> float:
    mono = samples.mean(axis=1) * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(mono))
    return float(np.fft.rfftfreq(len(mono), 1 / rate)[np.argmax(spectrum)])


def level_db(samples: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(samples.astype(np.float64) ** 2)) + 1e-12)


def window(samples: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    return samples[int(start_s * RATE):int(end_s * RATE)]


def spectrum_profile(samples: np.ndarray) -> np.ndarray:
    """Normalised magnitude spectrum in 50 Hz bands up to 10 kHz."""
    spectrum = np.abs(np.fft.rfft(samples.mean(axis=1)[:RATE // 2], n=RATE // 2))   # 2 Hz bins
    bands = spectrum[:5000].reshape(-1, 25).sum(axis=1)
    return bands / np.linalg.norm(bands)


def test_a4_sounds_at_440_hz():
    song = melody_song([Note(0, 2, 69, 100)], tempo=120)   # A4 for one second
    samples = audio.render_audio(song)
    assert samples.dtype == np.float32 and samples.shape[1] == 2
    assert strongest_hz(window(samples, 0.05, 1.0)) == pytest.approx(440.0, rel=0.02)


@pytest.mark.parametrize("tempo, meter", [(120.0, (4, 4)), (90.0, (3, 4))])
def test_one_bar_lasts_one_bar_plus_the_release_tail_with_notes_on_the_beat(tempo, meter):
    beats = meter[0] * 4 / meter[1]
    # staccato notes on every beat, so each onset shows in the level; the bar ends with a rest
    song = melody_song([Note(b, b + 0.5, 60 + 2 * b, 100) for b in range(int(beats))], tempo=tempo,
                       time_signature=meter)
    samples = audio.render_audio(song)
    bar_seconds = beats * 60 / tempo
    assert len(samples) / RATE - audio.RELEASE_TAIL_SECONDS == pytest.approx(bar_seconds, abs=0.05)
    beat_seconds = 60 / tempo
    for beat in range(1, int(beats)):
        onset = beat * beat_seconds
        before, after = window(samples, onset - 0.06, onset - 0.01), window(samples, onset + 0.01, onset + 0.06)
        assert level_db(after) > level_db(before) + 10, f"no onset at beat {beat} ({onset:.3f} s)"
    last_note_end = (beats - 1 + 0.5) * beat_seconds
    assert level_db(window(samples, last_note_end - 0.05, last_note_end)) > -50   # sounding until it ends
    end = len(samples) / RATE
    assert level_db(window(samples, end - 0.1, end)) < level_db(samples) - 40     # the tail has faded


def test_render_is_not_silent_and_stays_in_range():
    samples = audio.render_audio(melody_song([Note(i, i + 1, 60 + i, 90) for i in range(4)]))
    assert level_db(samples) > -50
    assert np.max(np.abs(samples)) <= 1.0


def test_drum_note_sounds_different_from_the_same_piano_note():
    piano = Song(tracks=[Track(notes=[Note(0, 1, 38, 110)], program=0)])
    drum = Song(tracks=[Track(notes=[Note(0, 1, 38, 110)], program=0, is_drum=True)])  # 38 = acoustic snare
    a, b = audio.render_audio(piano), audio.render_audio(drum)
    assert level_db(b) > -50
    similarity = float(spectrum_profile(a) @ spectrum_profile(b))
    assert similarity < 0.8


def harmonic_profile(samples: np.ndarray, f0: float) -> np.ndarray:
    """Normalised amplitudes of harmonics 1..8 over 0.05-0.55 s: the timbre of one note."""
    mono = window(samples, 0.05, 0.55).mean(axis=1) * np.hanning(RATE // 2)
    spectrum, freqs = np.abs(np.fft.rfft(mono)), np.fft.rfftfreq(RATE // 2, 1 / RATE)
    peaks = np.array([spectrum[(freqs > k * f0 * 0.97) & (freqs < k * f0 * 1.03)].max() for k in range(1, 9)])
    return peaks / np.linalg.norm(peaks)


def test_the_chosen_program_is_what_sounds():
    c5 = 440 * 2 ** (3 / 12)
    piano, organ, soft_piano = (audio.render_audio(melody_song([Note(0, 2, 72, velocity)], program=program))
                                for program, velocity in ((0, 100), (19, 100), (0, 60)))
    same = float(harmonic_profile(piano, c5) @ harmonic_profile(soft_piano, c5))
    other = float(harmonic_profile(piano, c5) @ harmonic_profile(organ, c5))
    assert same > 0.99 and other < 0.9


def test_block_by_block_rendering_equals_the_whole_render():
    song = melody_song([Note(i * 0.5, i * 0.5 + 0.4, 60 + i, 90) for i in range(8)], tempo=133)
    whole = audio.render_audio(song)
    with audio.SongRenderer(song) as renderer:
        blocks = []
        while not renderer.finished:
            blocks.append(renderer.read(1000))
    assert np.array_equal(np.concatenate(blocks), whole)


def test_missing_soundfont_is_reported_with_its_path(tmp_path):
    missing = tmp_path / "nope.sf2"
    song = melody_song([Note(0, 1, 60)])
    with pytest.raises(audio.AudioUnavailable, match=r"SoundFont not found: .*nope\.sf2"):
        audio.render_audio(song, soundfont=missing)
    available, reason = audio.audio_status(missing)
    assert not available and reason == f"SoundFont not found: {missing}"


def test_a_file_that_is_not_a_soundfont_is_refused(tmp_path):
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"RIFF\x04\x00\x00\x00sfbk" + b"\x00" * 64)
    with pytest.raises(audio.AudioUnavailable, match="is not a SoundFont FluidSynth can load"):
        audio.render_audio(melody_song([Note(0, 1, 60)]), soundfont=fake)


def test_default_soundfont_is_the_bundled_general_midi_bank():
    path = audio.default_soundfont()
    assert path.name == "TimGM6mb.sf2" and path.stat().st_size > 1_000_000
    available, reason = audio.audio_status()
    assert available, reason
    assert reason.startswith("FluidSynth ") and "TimGM6mb.sf2" in reason


def test_a_piece_ending_with_a_rest_keeps_its_last_bar():
    song = melody_song([Note(0, 1, 60), Note(4, 5, 62)], time_signature=(3, 4))   # bar 2 is 3..6 beats
    assert audio.music_end_beat(song) == 6.0
    samples = audio.render_audio(song, tail_seconds=0.0)
    assert len(samples) / RATE == pytest.approx(3.0, abs=0.05)                    # 6 beats at 120 bpm


def test_bars_of_rest_at_the_end_are_rendered_as_the_midi_file_has_them():
    from dataclasses import replace
    song = replace(melody_song([Note(0, 1, 60)]), length=16.0)        # 4 bars, the last 3 of rest
    assert audio.music_end_beat(song) == 16.0
    assert len(audio.render_audio(song, tail_seconds=0.0)) / RATE == pytest.approx(8.0, abs=0.05)


def test_a_loud_chord_is_normalised_not_clipped():
    """String Ensemble chords go past full scale at the synth's gain: the export
    is scaled from the unclipped peak, so no run of samples sits flat at the top."""
    chord = [Note(b, b + 4, p, 110) for b in (0, 4) for p in (48, 52, 55, 60)]
    song = Song(tracks=[Track(notes=chord, program=48)])
    raw = audio.render_audio(song)
    assert np.max(np.abs(raw)) <= 1.0
    samples = audio.render_audio(song, normalize=True)
    peak = np.max(np.abs(samples))
    assert peak == pytest.approx(audio.EXPORT_PEAK, abs=1e-4)
    assert np.sum(np.abs(samples) >= peak - 1e-4) < 20                # was thousands of flat-topped samples


def test_a_song_without_notes_is_refused():
    with pytest.raises(ValueError, match="no notes"):
        audio.render_audio(Song(tracks=[Track()]))


def test_without_libfluidsynth_the_reason_names_the_package():
    # A machine without libfluidsynth3: the library lookup pyfluidsynth does finds nothing.
    code = ("import ctypes.util; ctypes.util.find_library = lambda name: None\n"
            "from composer.sound import audio\n"
            "print(audio.audio_status())\n"
            "from composer.music.song import Note, melody_song\n"
            "try:\n"
            "    audio.render_audio(melody_song([Note(0, 1, 60)]))\n"
            "except audio.AudioUnavailable as exc:\n"
            "    print('raised:', exc)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    message = "FluidSynth library not found (install libfluidsynth3, e.g. sudo apt-get install libfluidsynth3)"
    assert result.stdout.splitlines() == [str((False, message)), f"raised: {message}"]


def test_write_wav_is_16_bit_stereo_normalised_and_never_overwrites(tmp_path):
    song = melody_song([Note(0, 4, 69, 100)])             # one 4/4 bar at 120 bpm: 2 s
    path = audio.write_wav(song, tmp_path / "a4.wav")
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, RATE)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2) / 32767.0
    assert len(pcm) / RATE == pytest.approx(2.0 + audio.RELEASE_TAIL_SECONDS, abs=0.05)
    assert strongest_hz(window(pcm, 0.05, 1.0)) == pytest.approx(440.0, rel=0.02)
    assert np.max(np.abs(pcm)) == pytest.approx(audio.EXPORT_PEAK, abs=0.001)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError):
        audio.write_wav(melody_song([Note(0, 1, 60)]), path)
    assert path.read_bytes() == before
    audio.write_wav(melody_song([Note(0, 1, 60)]), path, force=True)
    assert path.read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a4.wav"]   # no temp files left


def test_flac_export_holds_the_same_samples_as_wav(tmp_path):
    soundfile = pytest.importorskip("soundfile")
    song = melody_song([Note(0, 1, 64, 100), Note(1, 2, 67, 100)])
    wav_path = audio.write_audio(song, tmp_path / "x.wav")
    flac_path = audio.write_audio(song, tmp_path / "x.flac")
    wav_samples, wav_rate = soundfile.read(wav_path, dtype="int16")
    flac_samples, flac_rate = soundfile.read(flac_path, dtype="int16")
    assert wav_rate == flac_rate == RATE
    assert np.array_equal(wav_samples, flac_samples)
    assert flac_path.stat().st_size < wav_path.stat().st_size


def test_ogg_export_is_small_and_sounds_like_the_wav(tmp_path):
    soundfile = pytest.importorskip("soundfile")
    song = melody_song([Note(i, i + 1, 60 + 2 * i, 100) for i in range(8)])
    wav_path = audio.write_audio(song, tmp_path / "x.wav")
    ogg_path = audio.write_audio(song, tmp_path / "x.ogg")
    wav, wav_rate = soundfile.read(wav_path, dtype="float32")
    ogg, ogg_rate = soundfile.read(ogg_path, dtype="float32")
    assert ogg_rate == wav_rate == RATE and soundfile.info(ogg_path).format == "OGG"
    n = min(len(wav), len(ogg))
    assert abs(len(wav) - len(ogg)) < RATE // 10
    assert np.corrcoef(wav[:n, 0], ogg[:n, 0])[0, 1] > 0.95          # lossy, but the same music
    assert ogg_path.stat().st_size * 5 < wav_path.stat().st_size


def test_unknown_audio_format_is_named(tmp_path):
    with pytest.raises(ValueError, match="'mp3'"):
        audio.write_audio(melody_song([Note(0, 1, 60)]), tmp_path / "x.mp3")


# ---- generate --audio, run as a user would ---------------------------------------------------

def cli(*args):
    return subprocess.run([sys.executable, "-m", "composer", *map(str, args)], capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.fixture(scope="module")
def cli_model(tmp_path_factory):
    from tinymodels import tiny_model_file
    return tiny_model_file(tmp_path_factory.mktemp("audio-cli") / "tiny.model", "melody", steps=30)


def test_cli_audio_writes_a_wav_beside_each_midi_that_sounds_like_it(cli_model, tmp_path):
    from composer.music.midifile import read_midi
    out = tmp_path / "songs"
    result = cli("generate", "--model", cli_model, "--count", 2, "--bars", 2, "--seed", 3, "--tempo", 100,
                 "--out", out, "--audio", "--quiet")
    assert result.returncode == 0, result.stderr
    mids = sorted(out.glob("*.mid"))
    assert len(mids) == 2 and sorted(p.with_suffix(".wav") for p in mids) == sorted(out.glob("*.wav"))
    for mid in mids:
        song = read_midi(mid)
        with wave.open(str(mid.with_suffix(".wav"))) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, RATE)
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2) / 32767.0
        bars_seconds = 2 * 4 * 60 / 100
        assert len(pcm) / RATE - audio.RELEASE_TAIL_SECONDS == pytest.approx(bars_seconds, abs=0.05)
        assert level_db(pcm) > -50
        expected = audio.render_audio(song, normalize=True)          # the file is the render of its .mid
        assert np.max(np.abs(pcm - expected)) < 2 / 32767
        first = song.tracks[0].notes[0]
        hz = 440 * 2 ** ((first.pitch - 69) / 12)
        segment = window(pcm, song.seconds_at(first.start) + 0.03, song.seconds_at(first.end))
        if len(segment) > RATE // 20:                                 # long enough to resolve the pitch
            assert strongest_hz(segment) == pytest.approx(hz, rel=0.02) or \
                strongest_hz(segment) == pytest.approx(2 * hz, rel=0.02)


@pytest.mark.slow
def test_cli_audio_flac_and_missing_soundfont(cli_model, tmp_path):
    soundfile = pytest.importorskip("soundfile")
    out = tmp_path / "flac"
    result = cli("generate", "--model", cli_model, "--count", 1, "--bars", 1, "--seed", 5, "--out", out,
                 "--audio", "flac", "--quiet")
    assert result.returncode == 0, result.stderr
    samples, rate = soundfile.read(next(out.glob("*.flac")))
    assert rate == RATE and len(samples) / RATE == pytest.approx(2.0 + audio.RELEASE_TAIL_SECONDS, abs=0.05)
    missing = tmp_path / "missing.sf2"
    result = cli("generate", "--model", cli_model, "--count", 1, "--bars", 1, "--out", tmp_path / "none",
                 "--audio", "--soundfont", missing, "--quiet")
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: --audio: SoundFont not found: {missing}"
    assert not (tmp_path / "none").exists()


@pytest.mark.slow
def test_cli_audio_never_overwrites_without_force(cli_model, tmp_path):
    out = tmp_path / "songs"
    args = ("generate", "--model", cli_model, "--count", 1, "--bars", 1, "--seed", 9, "--out", out, "--audio",
            "--quiet")
    assert cli(*args).returncode == 0
    wav = next(out.glob("*.wav"))
    wav.write_bytes(b"mine")
    next(out.glob("*.mid")).unlink()          # only the audio file is in the way
    result = cli(*args)
    assert result.returncode == 2 and "already exist" in result.stderr and wav.read_bytes() == b"mine"
    assert not list(out.glob("*.mid"))        # refused before generating anything


def test_a_soundfont_over_the_size_cap_is_refused_before_loading(tmp_path):
    from composer.sound.soundfonts import MAX_SOUNDFONT, resolve_soundfont
    huge = tmp_path / "huge.sf2"
    with open(huge, "wb") as f:              # sparse: no disk space used
        f.truncate(MAX_SOUNDFONT + 1)
    with pytest.raises(audio.AudioUnavailable, match=r"huge\.sf2: file too large"):
        resolve_soundfont(huge)
    fine = tmp_path / "small.sf2"
    fine.write_bytes(b"RIFF")
    assert resolve_soundfont(fine) == fine


def test_a_long_four_part_piece_encodes_to_ogg_without_crashing(tmp_path):
    """libvorbis overflowed its stack on this harmonised chorale written in one call (a segfault that
    took the app down); encoding a second at a time does not. Run in a child: a crash is its exit code."""
    song = Path(__file__).resolve().parent.parent / "data" / "harmonised-chorale.mid"
    code = ("import sys; from composer.music.midifile import read_midi; from composer.sound.export import "
            "write_audio; write_audio(read_midi(sys.argv[1]), sys.argv[2], audio_format='ogg')")
    out = tmp_path / "chorale.ogg"
    done = subprocess.run([sys.executable, "-c", code, str(song), str(out)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-500:]
    assert out.stat().st_size > 10_000
