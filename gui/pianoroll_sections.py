"""The band of section letters a PianoRoll draws above its ruler (a form's
phrases: composer.services.form_plan.FormSpec.spans): each section a tinted
span with its letter, a letter keeping its colour."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter

SECTION_HEIGHT = 14   # px, the band of section letters above the ruler (only while sections are set)

Section = tuple[str, int, int]      # letter, first bar, last bar (1-based, inclusive)


def section_color(index: int) -> QColor:
    """The band colour of the index-th distinct section letter (A, B, C ... in order)."""
    return QColor.fromHsv((45 + 110 * index) % 360, 70, 240)


def checked_sections(sections) -> list[Section]:
    """`sections` as (str, int, int) tuples; raises ValueError naming a bad one."""
    sections = [(str(letter), int(first), int(last)) for letter, first, last in sections]
    for letter, first, last in sections:
        if not letter or first < 1 or last < first:
            raise ValueError(f"a section is (letter, first bar >= 1, last bar >= first), got {letter!r}, "
                             f"{first}, {last}")
    return sections


def paint_sections(painter: QPainter, sections: list[Section], bar_x, base_font: QFont) -> None:
    """Each section as a tinted span of the band, its letter at the left, a line between spans;
    `bar_x(bar)` is the x of bar `bar`'s start (1-based)."""
    letters = sorted({letter for letter, _, _ in sections})
    font = QFont(base_font)
    font.setPixelSize(SECTION_HEIGHT - 3)
    font.setBold(True)
    painter.setFont(font)
    for letter, first, last in sections:
        left, right = bar_x(first), bar_x(last + 1)
        painter.fillRect(QRectF(left, 0, right - left, SECTION_HEIGHT), section_color(letters.index(letter)))
        painter.setPen(QColor(60, 60, 80))
        painter.drawLine(QPointF(left, 0), QPointF(left, SECTION_HEIGHT))
        painter.drawText(QRectF(left + 4, 0, max(0.0, right - left - 4), SECTION_HEIGHT),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, letter)
    painter.setFont(base_font)
