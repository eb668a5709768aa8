"""The frame representation (composer/representations/frames.py): piano roll <-> tokens <->
Song, the sampling grammar, transposition and the registry."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from composer.model.modelfile import load_model, save_model
from composer.model.network import ModelConfig, MusicRNN
from composer.model.sampling import SamplingConfig, sample
from composer.music.midifile import read_midi, song_to_bytes
from composer.music.song import Note, Song, Track
from composer.representations.base import BOS, EOS, Constraints, UnusableMusic
from composer.representations.frames import FramesConfig, FramesTokenizer
from composer.representations.registry import tokenizer_from_config

rolls = arrays(np.uint8, st.tuples(st.integers(1, 24), st.just(88)), elements=st.integers(0, 1))


@settings(max_examples=60, deadline=None)
@given(rolls)
def test_piano_roll_to_tokens_to_piano_roll_is_identity(roll):
    tok = FramesTokenizer()
    tokens = tok.encode_roll(roll, lowest_pitch=21)
    assert tokens[0] == BOS and tokens[-1] == EOS
    assert tokens.count(tok.end_of_frame) == len(roll)
    assert np.array_equal(tok.decode_roll(tokens, lowest_pitch=21, columns=88), roll)


@settings(max_examples=30, deadline=None)
@given(rolls)
def test_piano_roll_survives_a_real_midi_file(roll):
    """roll -> tokens -> Song -> MIDI bytes -> Song -> tokens -> roll."""
    tok = FramesTokenizer(FramesConfig(steps_per_quarter=2, min_frames=1))
    tokens = tok.encode_roll(roll)
    if not roll.any():
        assert tok.decode(tokens).tracks[0].notes == []
        return
    song = read_midi(song_to_bytes(tok.decode(tokens, tempo=100)))
    again = tok.encode(song).tokens
    back = tok.decode_roll(again)
    # trailing empty frames carry no note, so a MIDI file cannot keep them; leading ones go in whole beats
    sounding = np.nonzero(roll.any(axis=1))[0]
    first, last = int(sounding.min()) // 2 * 2, int(sounding.max()) + 1
    assert np.array_equal(back, roll[first:last])


def test_descending_order_writes_the_highest_pitch_first_and_decodes_the_same():
    tok = FramesTokenizer(FramesConfig(order="descending"))
    tokens = tok.encode_frames([[60, 67, 64], [], [62]])
    assert [tok.vocab[t] for t in tokens] == ["<bos>", "pitch:67", "pitch:64", "pitch:60", "frame", "frame",
                                              "pitch:62", "frame", "<eos>"]
    assert tok.decode_frames(tokens) == [[60, 64, 67], [], [62]]
    with pytest.raises(ValueError, match="order"):
        FramesConfig(order="sideways")


def test_song_on_a_grid_becomes_frames_of_ascending_pitches():
    # eighth-note grid: a C major triad held a quarter, then E alone for an eighth, a rest, then G
    notes = [Note(0, 1, 67), Note(0, 1, 60), Note(0, 1, 64), Note(1, 1.5, 64), Note(2, 2.5, 67)]
    tok = FramesTokenizer(FramesConfig(steps_per_quarter=2))
    enc = tok.encode(Song(tracks=[Track(notes=notes), Track(notes=[Note(0, 1, 36)], is_drum=True)]))
    names = [tok.vocab[t] for t in enc.tokens]
    assert names == ["<bos>", "pitch:60", "pitch:64", "pitch:67", "frame", "pitch:60", "pitch:64", "pitch:67",
                     "frame", "pitch:64", "frame", "frame", "pitch:67", "frame", "<eos>"]
    # held and repeated look the same: E sounds in frames 0..2 and decodes as one note
    assert enc.n_notes == 4 == tok.count_notes(enc.tokens)
    decoded = tok.decode(enc.tokens).tracks[0].notes
    assert Note(0, 1.5, 64, 80) in decoded and len(decoded) == 4


@pytest.mark.parametrize("cycle, kept", [(0, 1), (8, 5)])
def test_silence_before_the_first_note_goes_in_whole_beats_or_clock_cycles(cycle, kept):
    # an upbeat on the last sixteenth of beat 3 of a 4/4 bar: 13 silent frames, then the music
    tok = FramesTokenizer(FramesConfig(steps_per_quarter=4, frame_cycle=cycle))
    frames = tok.decode_frames(tok.encode(Song(tracks=[Track(notes=[Note(3.25, 4, 67), Note(4, 5, 60)])])).tokens)
    assert frames[:kept] == [[]] * kept and frames[kept] == [67]
    assert len(frames) == kept + 3 + 4


@pytest.mark.parametrize("song, reason", [
    (Song(tracks=[Track(notes=[])]), "no notes"),
    (Song(tracks=[Track(notes=[Note(0, 1, 38)], is_drum=True)]), "drums only"),
    (Song(tracks=[Track(notes=[Note(0, 1, 10)])]), "no notes in the pitch range"),
    (Song(tracks=[Track(notes=[Note(0, 0.25, 60)])]), "too short (1 frames, need 2)"),
])
def test_unusable_songs_name_the_reason(song, reason):
    with pytest.raises(UnusableMusic, match=reason.replace("(", r"\(").replace(")", r"\)")):
        FramesTokenizer().encode(song)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 91), max_size=80))
def test_any_token_sequence_decodes_to_a_valid_song(tokens):
    tok = FramesTokenizer()
    assert tok.vocab_size == 92
    song = tok.decode(tokens, tempo=90, program=5)
    notes = song.tracks[0].notes
    assert all(21 <= n.pitch <= 108 and n.end > n.start for n in notes)
    assert len(notes) == tok.count_notes(tokens)
    read_midi(song_to_bytes(song))      # writes and reads back as a real MIDI file


def test_transpose_moves_pitches_and_refuses_to_leave_the_range():
    tok = FramesTokenizer()
    tokens = tok.encode_frames([[60, 64], [], [108]])
    assert tok.decode_frames(tok.transpose(tokens, -2)) == [[58, 62], [], [106]]
    assert tok.transpose(tokens, 1) is None
    assert tok.transpose(tokens, 0) == tokens


def test_frame_spans_cover_pitches_and_the_end_of_frame_token():
    tok = FramesTokenizer()
    tokens = tok.encode_frames([[60, 64], [], [67]])
    assert tok.frame_spans(tokens) == [(1, 3), (4, 4), (5, 6)]


def tiny_model(tok, seed=0):
    torch.manual_seed(seed)
    return MusicRNN(ModelConfig(vocab_size=tok.vocab_size, hidden_size=16, embed_dim=8, num_layers=1))


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_sampling_grammar_gives_ordered_frames_of_the_requested_length(order):
    tok = FramesTokenizer(FramesConfig(steps_per_quarter=2, order=order))
    constraints = Constraints(bars=2, time_signature=(3, 4), pitch_low=48, pitch_high=72,
                              pitch_classes=frozenset({0, 4, 7}))
    grammar = tok.grammar(1, constraints, "cpu")
    assert grammar.frames_wanted == 12        # 2 bars of 3/4 in eighths
    out = sample(tiny_model(tok), grammar, [BOS], 4, SamplingConfig(temperature=1.5), slots=3, seed=1)
    assert len(out) == 4
    for row in out:
        body = row[1:row.index(EOS)]
        assert body.count(tok.end_of_frame) == 12 and body[-1] == tok.end_of_frame
        frame = []
        for t in body:
            if t == tok.end_of_frame:
                assert frame == sorted(set(frame), reverse=order == "descending")
                frame = []
            else:
                p = tok.vocab[t]
                pitch = int(p.split(":")[1])
                assert 48 <= pitch <= 72 and pitch % 12 in (0, 4, 7)
                frame.append(pitch)


def test_grammar_length_in_seconds_and_in_frames():
    tok = FramesTokenizer(FramesConfig(steps_per_quarter=4))
    assert tok.grammar(1, Constraints(seconds=3.0), "cpu").frames_wanted == 24    # 6 beats at 120 bpm
    assert tok.grammar(1, Constraints(), "cpu", frames=5).frames_wanted == 5
    with pytest.raises(ValueError, match="needs a length"):
        tok.grammar(1, Constraints(), "cpu")


def test_registry_and_model_file_round_trip(tmp_path):
    tok = FramesTokenizer(FramesConfig(steps_per_quarter=1, pitch_low=30))
    again = tokenizer_from_config("frames", tok.config.to_dict())
    assert again.vocab == tok.vocab and again.config == tok.config
    save_model(tmp_path / "f.model", tiny_model(tok), tok, {"note": "test"})
    loaded = load_model(tmp_path / "f.model", "cpu")
    assert loaded.tokenizer.kind == "frames" and loaded.tokenizer.config.pitch_low == 30


@settings(max_examples=40, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 16), st.just(30)), elements=st.integers(0, 1)),
       st.integers(-6, 6))
@pytest.mark.parametrize("order, cycle", [("ascending", 0), ("descending", 0), ("ascending", 4)])
def test_previous_frame_pointer_is_the_same_in_tokenizer_grammar_and_transposition(order, cycle, roll, shift):
    tok = FramesTokenizer(FramesConfig(order=order, frame_cycle=cycle))
    tokens = tok.encode_roll(roll, lowest_pitch=50)
    positions = tok.positions(tokens)
    assert len(positions) == len(tokens) and all(0 <= p < tok.position_classes for p in positions)
    # by hand: after a pitch, the next pitch of the previous frame in writing order (above it; below if descending)
    down = order == "descending"
    frames = [sorted(f, reverse=down) for f in tok.decode_frames(tokens)]     # in writing order
    i = 1
    for k, frame in enumerate(frames):
        previous = frames[k - 1] if k else []
        for j, pitch in enumerate(frame + [None]):            # None: the `frame` token
            if pitch is None:                                  # a new frame starts: its first pitch
                above = frame
            else:
                above = [p for p in previous if (p < pitch if down else p > pitch)]
            expect = above[0] - tok.config.pitch_low + 1 if above else 0
            if cycle:       # the clock: the frame being written (the next one after a `frame` token)
                expect += (tok.n_pitches + 1) * ((k + (pitch is None)) % cycle)
            assert positions[i] == expect, (k, j)
            i += 1
    grammar = tok.grammar(1, Constraints(bars=64), "cpu", frames=len(roll) + 1)
    seen = []
    for t in tokens:
        grammar.update(torch.tensor([t]))
        seen.append(int(grammar.positions()[0]))
    assert seen == positions
    moved = tok.transpose(tokens, shift)
    assert moved is not None
    assert list(tok.transpose_positions(np.asarray(positions), shift)) == tok.positions(moved)


def test_a_frames_model_with_the_pointer_input_samples(tmp_path):
    tok = FramesTokenizer(FramesConfig(steps_per_quarter=2))
    model = MusicRNN(ModelConfig(vocab_size=tok.vocab_size, embed_dim=8, hidden_size=12, num_layers=1,
                                 position_classes=tok.position_classes))
    path = save_model(tmp_path / "f.model", model, tok)
    loaded = load_model(path)
    prefix = tok.encode_frames([[60, 64], [60, 67]], end=False)
    out = sample(loaded.model, tok.grammar(1, Constraints(bars=1), "cpu"), prefix, 3, SamplingConfig(),
                 prefix_positions=tok.positions(prefix), seed=0)
    assert len(out) == 3 and all(len(tok.decode_frames(row)) >= 2 for row in out)


def test_silent_frames_at_the_end_are_part_of_the_song():
    tok = FramesTokenizer()
    song = tok.decode(tok.encode_frames([[60, 64], [], [], []]))
    step = 1.0 / tok.config.steps_per_quarter
    assert song.end_beat == step and song.length_beats == 4 * step
    assert read_midi_bytes_length(song) == pytest.approx(4 * step)


def read_midi_bytes_length(song) -> float:
    """The written file's length in beats (its end-of-track), read back."""
    import io

    import mido
    midi = mido.MidiFile(file=io.BytesIO(song_to_bytes(song)))
    return max(sum(m.time for m in track) for track in midi.tracks) / midi.ticks_per_beat


def test_the_shipped_polyphonic_model_writes_four_voices_from_the_first_beat():
    from composer.analysis.texture import texture
    from composer.assets import asset_path
    from composer.services.generate import GenerateRequest, generate
    loaded = load_model(asset_path("polyphonic.model"), "cpu")
    songs = generate(loaded, GenerateRequest(count=3, bars=4, seed=2)).songs
    assert all(song.notes and min(n.start for n in song.notes) < 1.0 for song in songs)
    assert 3.5 <= texture(songs).mean_voices <= 4.5
