"""The results panel's side of the history (gui.results.history): what a
step keeps of the list and shows again, and the steps of an accepted take and
of a note edit."""
from __future__ import annotations

from dataclasses import replace

from composer.music.song import Note, Song
from gui.results.history import Shown


class HistorySteps:
    """Mixed into ResultsPanel (it owns history, variations, roll, infill_panel,
    kind, sections, source_name, showing_partial, title)."""

    def snapshot(self) -> Shown:
        """What the list shows now, the selected row included."""
        v = self.variations
        return Shown(tuple(v.songs), self.kind, v.seed, v.primer_beats,
                     tuple(v.copies) if v.copies is not None else None, v.copy_index, tuple(self.sections),
                     v.generated, self.source_name, max(0, v.currentRow()))

    def show_state(self, shown: Shown) -> None:
        """Show `shown` (what every history step does). The same list with one
        song changed (a take, an edit, their undo) keeps the roll's view and bar
        selection; another list is fitted to the view."""
        self.stop_playback()
        self.infill_panel.discard()
        v = self.variations
        same_piece = self._same_list_but_one(shown)
        if not same_piece:
            self.roll.clear_selection()
        self.source_name, self.kind, self.sections = shown.source_name, shown.kind, list(shown.sections)
        self.showing_partial = False
        v.set_songs(list(shown.songs), shown.kind, shown.seed, shown.primer_beats, shown.copies, shown.copy_index,
                    generated=shown.generated, row=shown.row)
        self.title.setText("Variations" + (f" · seed {shown.seed}" if shown.seed is not None else
                                           f" · {shown.source_name}.mid" if shown.source_name else ""))
        self._on_row_changed(v.currentRow(), keep_view=same_piece)

    def _same_list_but_one(self, shown: Shown) -> bool:
        """`shown` differs from the list shown at most in its selected song."""
        v, row = self.variations, shown.row
        return (self.roll.song is not None and len(shown.songs) == len(v.songs) and row == v.currentRow()
                and (shown.seed, shown.source_name, shown.primer_beats) == (v.seed, self.source_name, v.primer_beats)
                and all(a is b for i, (a, b) in enumerate(zip(shown.songs, v.songs)) if i != row))

    def record_edit(self, label: str, before_song: Song, after_song: Song,
                    selected: tuple[tuple[Note, ...], tuple[Note, ...]] | None = None) -> bool:
        """Record an edit of the variation shown, `before_song` -> `after_song`,
        as one step of the history (for the piano roll's note editing): the
        list then holds `after_song` in its row (copy meter measured again), the
        History drop-down gets the entry "`label` in variation N" (e.g. label
        "move 3 notes"), and Ctrl+Z puts `before_song` back (Ctrl+Shift+Z
        `after_song`), drawn without moving the view or the bar selection. Call
        it once per finished edit (on mouse release, not per mouse move), with
        songs never changed in place. If the roll already shows `after_song`, it
        is not set again. `selected`: the notes selected in the roll before and
        after the edit, selected again by undo and redo. False (nothing
        recorded) if `before_song` is not the selected variation: while takes
        are open or a piece is being sampled."""
        row = self.variations.currentRow()
        if self.showing_partial or self.infill_panel.is_open() or self.variations.song_at(row) is not before_song:
            return False
        self._record_song(row, after_song, f"{label} in variation {row + 1}", selected=selected)
        return True

    def _on_song_edited(self, edit) -> None:
        """A note edit in the roll (gui.roll_edit.NoteEdit) becomes the variation's song, as one step."""
        if not self.record_edit(edit.text, edit.before, edit.after, (edit.selected_before, edit.selected_after)):
            self.status.emit("Notes can be edited once the takes are used or discarded, and not while "
                             "a piece is being sampled")
            self.roll.viewport().update()
            return
        self.status.emit(f"{edit.text[:1].upper()}{edit.text[1:]} (Ctrl+Z undoes it)")

    def _on_take_accepted(self, song: Song) -> None:
        panel = self.infill_panel
        row, take = panel.row, panel.list.currentRow()     # (the step discards the panel)
        if panel.step_label:
            label = panel.step_label.format(take=take)
            self._record_song(row, song, label, f"{label[:1].upper()}{label[1:]} (Ctrl+Z undoes it)")
            return
        first, last = panel.bars
        span = f"bar {first}" if first == last else f"bars {first}-{last}"
        self._record_song(row, song, f"regenerate {span} of variation {row + 1} (take {take})",
                          f"Replaced {span} of variation {row + 1} (Ctrl+Z undoes it)")

    def _record_song(self, row: int, song: Song, label: str, done: str = "", selected=None) -> None:
        """A step that puts `song` in row `row` of the list shown."""
        now = self.snapshot()
        songs = now.songs[:row] + (song,) + now.songs[row + 1:]
        copies = now.copies
        if copies is not None:
            copies = copies[:row] + (self.variations.measure(song),) + copies[row + 1:]
        self.history.record(label, replace(now, songs=songs, copies=copies, row=row), done=done, selected=selected)
