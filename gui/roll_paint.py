"""Painting helpers of the piano roll (gui.pianoroll): note colours, the
pitch-name column and the band of section letters."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter

from composer.music.song import pitch_name

KEY_WIDTH = 44        # px, the pitch-name column
RULER_HEIGHT = 22     # px, the bar/beat ruler
SECTION_HEIGHT = 14   # px, the band of section letters above it (only while sections are set)
BLACK_KEYS = {1, 3, 6, 8, 10}


def velocity_color(velocity: int, *, faded: bool = False) -> QColor:
    """Blue (soft) .. red (loud); faded for primer notes."""
    hue = int(220 * (1.0 - max(1, min(127, velocity)) / 127.0))
    return QColor.fromHsv(hue, 90 if faded else 200, 200 if faded else 230)


def section_color(index: int) -> QColor:
    """The band colour of the index-th distinct section letter (A, B, C ... in order)."""
    return QColor.fromHsv((45 + 110 * index) % 360, 70, 240)


def paint_keys(roll, painter: QPainter, height: int) -> None:
    """The pitch-name column at the left, black keys shaded."""
    painter.fillRect(QRectF(0, roll.ruler_height, KEY_WIDTH, height), QColor(245, 245, 248))
    painter.setClipRect(QRectF(0, roll.ruler_height, KEY_WIDTH, height))
    o = roll._origin()
    font = QFont(roll.font())
    font.setPixelSize(max(7, min(11, roll.row_height + 1)))
    painter.setFont(font)
    for pitch in range(roll.pitch_low, roll.pitch_high + 1):
        y = o.y() + (roll.pitch_high - pitch) * roll.row_height
        if pitch % 12 in BLACK_KEYS:
            painter.fillRect(QRectF(KEY_WIDTH * 0.55, y, KEY_WIDTH * 0.45, roll.row_height), QColor(60, 60, 70))
        if pitch % 12 == 0 or roll.row_height >= 12:
            painter.setPen(QColor(30, 30, 40))
            painter.drawText(QRectF(2, y - 2, KEY_WIDTH - 4, roll.row_height + 4),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, pitch_name(pitch))
    painter.setClipping(False)
    painter.setPen(QColor(170, 170, 180))
    painter.drawLine(QPointF(KEY_WIDTH, roll.ruler_height), QPointF(KEY_WIDTH, height))


def paint_sections(roll, painter: QPainter) -> None:
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
