"""Painting the piano roll (gui/pianoroll.py): its sizes and colours, and
the layers drawn in order: semitone rows, the beat grid, the selected bars,
ghost and song notes (the selected ones outlined, a drag in progress drawn as
it would end), the rubber band, the pitch names, the ruler with the section
band, the playhead."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen

KEY_WIDTH = 48        # px, the pitch-name column
BLACK_KEY_WIDTH = 12  # px, the black-key block at its right edge; the names stay left of it
RULER_HEIGHT = 22     # px, the bar/beat ruler
SECTION_HEIGHT = 14   # px, the band of section letters above it (only while sections are set)
MIN_SPAN = 24         # semitones shown at least
MIN_ROW, MAX_ROW = 7, 16   # px per semitone row
BLACK_KEYS = {1, 3, 6, 8, 10}
SELECTION_FILL = QColor(255, 196, 0, 48)     # the selected bars over the notes
SELECTION_RULER = QColor(255, 190, 40)       # the selected bars on the ruler
GHOST_PEN = QColor(150, 150, 160)
SELECTED_PEN = QColor(255, 140, 0)           # the outline of a selected note
BAND_FILL = QColor(40, 110, 220, 40)         # the rubber band
BAND_PEN = QColor(40, 110, 220)


def velocity_color(velocity: int, *, faded: bool = False) -> QColor:
    """Blue (soft) .. red (loud); faded for primer notes."""
    hue = int(220 * (1.0 - max(1, min(127, velocity)) / 127.0))
    return QColor.fromHsv(hue, 90 if faded else 200, 200 if faded else 230)


def section_color(index: int) -> QColor:
    """The band colour of the index-th distinct section letter (A, B, C ... in order)."""
    return QColor.fromHsv((45 + 110 * index) % 360, 70, 240)


def paint_roll(roll) -> None:
    """Paint `roll` on its viewport: rows, grid, selection, notes, keys, ruler, playhead."""
    painter = QPainter(roll.viewport())
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    rect = roll.viewport().rect()
    painter.fillRect(rect, QColor(250, 250, 250))
    _rows(roll, painter, rect.width())
    _grid(roll, painter, rect.height())
    _selection(roll, painter, rect.height(), roll.ruler_height, SELECTION_FILL)
    _notes(roll, painter)
    _keys(roll, painter, rect.height())
    _ruler(roll, painter, rect.width())
    if roll.playhead_beat is not None:
        x = roll.origin().x() + roll.playhead_beat * roll.px_per_beat
        if x >= KEY_WIDTH:
            painter.setPen(QPen(QColor(220, 30, 30), 2))
            painter.drawLine(QPointF(x, 0), QPointF(x, rect.height()))
    if roll.song is None:
        painter.setPen(QColor(120, 120, 120))
        painter.drawText(rect.adjusted(KEY_WIDTH, roll.ruler_height, 0, 0), Qt.AlignmentFlag.AlignCenter,
                         "Generate, or open a MIDI file, to see the notes here")
    painter.end()


def _rows(roll, painter: QPainter, width: int) -> None:
    o = roll.origin()
    for pitch in range(roll.pitch_low, roll.pitch_high + 1):
        y = o.y() + (roll.pitch_high - pitch) * roll.row_height
        if pitch % 12 in BLACK_KEYS:
            painter.fillRect(QRectF(KEY_WIDTH, y, width, roll.row_height), QColor(236, 236, 240))
        if pitch % 12 == 0:
            painter.setPen(QColor(205, 205, 215))
            painter.drawLine(QPointF(KEY_WIDTH, y + roll.row_height), QPointF(width, y + roll.row_height))


def _grid(roll, painter: QPainter, height: int) -> None:
    o = roll.origin()
    bar = roll.song.bar_length() if roll.song else 4.0
    beat_unit = 4.0 / (roll.song.time_signature[1] if roll.song else 4)
    beats = int(roll.content_beats() / beat_unit) + 1
    for k in range(beats):
        x = o.x() + k * beat_unit * roll.px_per_beat
        if x < KEY_WIDTH:
            continue
        on_bar = abs((k * beat_unit) / bar - round((k * beat_unit) / bar)) < 1e-6
        painter.setPen(QColor(150, 150, 165) if on_bar else QColor(222, 222, 230))
        painter.drawLine(QPointF(x, roll.ruler_height), QPointF(x, height))


def _selection(roll, painter: QPainter, bottom: float, top: float, color: QColor) -> None:
    """Shade the selected bars between `top` and `bottom` (viewport y)."""
    if roll.selection is None:
        return
    left = max(float(KEY_WIDTH), roll.bar_x(roll.selection[0]))
    right = roll.bar_x(roll.selection[1] + 1)
    if right > left:
        painter.fillRect(QRectF(left, top, right - left, bottom - top), color)


def _notes(roll, painter: QPainter) -> None:
    painter.setClipRect(QRectF(KEY_WIDTH, roll.ruler_height, roll.viewport().width(), roll.viewport().height()))
    painter.setPen(QPen(GHOST_PEN, 1, Qt.PenStyle.DashLine))
    for note in roll.ghost_notes:
        if roll.pitch_low <= note.pitch <= roll.pitch_high:
            painter.drawRect(roll.note_rect(note))
    border = QColor(40, 40, 60)
    pending = roll.pending
    if pending is not None:      # where the dragged notes were, as outlines
        kept = set(pending.after.notes)
        for note in pending.selected_before:
            if note not in kept and roll.pitch_low <= note.pitch <= roll.pitch_high:
                painter.drawRect(roll.note_rect(note))
    painter.setPen(border)
    for note in roll.drum_notes:         # a part of several: drawn, not edited
        if roll.pitch_low <= note.pitch <= roll.pitch_high:
            painter.fillRect(roll.note_rect(note), roll.part_colors.get(note, GHOST_PEN))
            painter.drawRect(roll.note_rect(note))
    notes = pending.after.notes if pending is not None else roll.notes
    selected = set(pending.selected_after if pending is not None else roll.selected)
    for note in notes:
        if not roll.pitch_low <= note.pitch <= roll.pitch_high:
            continue
        rect = roll.note_rect(note)
        part = roll.part_colors.get(note)
        painter.fillRect(rect, part if part is not None else
                         velocity_color(note.velocity, faded=note.start < roll.primer_beats - 1e-9))
        painter.setPen(QPen(SELECTED_PEN, 2) if note in selected else border)
        painter.drawRect(rect)
    if roll.band is not None:
        painter.setPen(BAND_PEN)
        painter.fillRect(roll.band, BAND_FILL)
        painter.drawRect(roll.band)
    painter.setClipping(False)


def black_key_rect(row_top: float, row_height: float) -> QRectF:
    """The black-key block of a black key's row in the pitch-name column."""
    return QRectF(KEY_WIDTH - BLACK_KEY_WIDTH, row_top, BLACK_KEY_WIDTH, row_height)


def label_rect(row_top: float, row_height: float) -> QRectF:
    """Where a row's pitch name is written: left of every black-key block, so none covers it."""
    return QRectF(2, row_top - 2, KEY_WIDTH - BLACK_KEY_WIDTH - 4, row_height + 4)


def label_font(roll) -> QFont:
    font = QFont(roll.font())
    font.setPixelSize(max(7, min(11, roll.row_height + 1)))
    return font


def _keys(roll, painter: QPainter, height: int) -> None:
    painter.fillRect(QRectF(0, roll.ruler_height, KEY_WIDTH, height), QColor(245, 245, 248))
    painter.setClipRect(QRectF(0, roll.ruler_height, KEY_WIDTH, height))
    o = roll.origin()
    rows = [(pitch, o.y() + (roll.pitch_high - pitch) * roll.row_height)
            for pitch in range(roll.pitch_low, roll.pitch_high + 1)]
    for pitch, y in rows:
        if pitch % 12 in BLACK_KEYS:
            painter.fillRect(black_key_rect(y, roll.row_height), QColor(60, 60, 70))
    painter.setFont(label_font(roll))
    painter.setPen(QColor(30, 30, 40))
    for pitch, y in rows:         # after every block: a neighbour's block cannot cover a name
        if pitch % 12 == 0 or roll.row_height >= 12:
            painter.drawText(label_rect(y, roll.row_height), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             roll.pitch_label(pitch))
    painter.setClipping(False)
    painter.setPen(QColor(170, 170, 180))
    painter.drawLine(QPointF(KEY_WIDTH, roll.ruler_height), QPointF(KEY_WIDTH, height))


def _ruler(roll, painter: QPainter, width: int) -> None:
    height = roll.ruler_height
    top = height - RULER_HEIGHT                       # the bar/beat ruler is below the section band
    painter.fillRect(QRectF(0, 0, width, height), QColor(232, 232, 238))
    _selection(roll, painter, height, 0, SELECTION_RULER)
    o = roll.origin()
    bar = roll.song.bar_length() if roll.song else 4.0
    beat_unit = 4.0 / (roll.song.time_signature[1] if roll.song else 4)
    per_bar = max(1, round(bar / beat_unit))
    bars = int(roll.content_beats() / bar) + 1
    label_every = max(1, int(40 / max(1.0, bar * roll.px_per_beat)) + 1)
    painter.setClipRect(QRectF(KEY_WIDTH, 0, width, height))
    _sections(roll, painter, bar)
    for b in range(bars):
        x0 = o.x() + b * bar * roll.px_per_beat
        painter.setPen(QColor(60, 60, 80))
        painter.drawLine(QPointF(x0, top + RULER_HEIGHT * 0.35), QPointF(x0, height))
        if b % label_every == 0:
            painter.drawText(QPointF(x0 + 3, top + RULER_HEIGHT * 0.6), str(b + 1))
        painter.setPen(QColor(140, 140, 155))
        for k in range(1, per_bar):
            x = x0 + k * beat_unit * roll.px_per_beat
            painter.drawLine(QPointF(x, top + RULER_HEIGHT * 0.75), QPointF(x, height))
    painter.setClipping(False)
    painter.setPen(QColor(170, 170, 180))
    painter.drawLine(QPointF(0, height - 0.5), QPointF(width, height - 0.5))


def _sections(roll, painter: QPainter, bar: float) -> None:
    """Each section as a tinted span of the band, its letter at the left, a line between spans."""
    letters = sorted({letter for letter, _, _ in roll.sections})
    font = QFont(roll.font())
    font.setPixelSize(SECTION_HEIGHT - 3)
    font.setBold(True)
    painter.setFont(font)
    for letter, first, last in roll.sections:
        left, right = roll.bar_x(first), roll.bar_x(last + 1)
        painter.fillRect(QRectF(left, 0, right - left, SECTION_HEIGHT), section_color(letters.index(letter)))
        painter.setPen(QColor(60, 60, 80))
        painter.drawLine(QPointF(left, 0), QPointF(left, SECTION_HEIGHT))
        painter.drawText(QRectF(left + 4, 0, max(0.0, right - left - 4), SECTION_HEIGHT),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, letter)
    painter.setFont(roll.font())
