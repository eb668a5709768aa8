"""Multi-track songs built in code for the accompaniment tests (and other helpers' tests)."""
from composer.music.song import Note, Song, Track
from composer.representations.accompany.grid import AccompanyConfig

CHORALE = [  # (S, A, T, B) per beat: C F G C | Am Dm G7 C
    (72, 67, 64, 48), (72, 69, 65, 53), (71, 67, 62, 55), (72, 67, 64, 48),
    (72, 69, 64, 57), (74, 69, 65, 50), (71, 65, 62, 55), (72, 67, 64, 48)]
SATB = AccompanyConfig(voices=("alto", "tenor", "bass"))


def chorale_song() -> Song:
    parts = [Track([Note(b, b + 1, chord[v]) for b, chord in enumerate(CHORALE)], program=52, name=name)
             for v, name in enumerate(("Soprano", "Alto", "Tenor", "Bass"))]
    return Song(tracks=parts, tempos=[(0.0, 90.0)], time_signatures=[(0.0, 4, 4)])


def lead_sheet_song(time_signature=(4, 4)) -> Song:
    """A melody in eighth notes over one block chord a bar (C, Am, F, G) and a bass in half notes."""
    bar = time_signature[0] * 4 / time_signature[1]
    chords = [(60, 64, 67), (57, 60, 64), (57, 60, 65), (59, 62, 67)]
    melody = [Note(k * 0.5, k * 0.5 + 0.5, (72, 76, 79, 76)[k % 4]) for k in range(int(8 * bar))]
    block = [Note(i * bar, (i + 1) * bar, p) for i, chord in enumerate(chords) for p in chord]
    bass = [Note(i * bar + h * bar / 2, i * bar + (h + 1) * bar / 2, chord[0] - 24)
            for i, chord in enumerate(chords) for h in range(2)]
    drums = Track([Note(b, b + 0.25, 36) for b in range(8)], is_drum=True)
    return Song(tracks=[Track(block, name="Piano"), drums, Track(melody, program=73, name="Flute"),
                        Track(bass, program=33, name="Bass")],
                time_signatures=[(0.0, *time_signature)])
