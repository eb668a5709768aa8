"""A small line plot painted with QPainter (training curves); no plotting
dependency needed for two curves that grow a point at a time."""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 52, 12, 22, 24


class CurvePlot(QWidget):
    """One curve of (x, y) points: x in steps, y in the unit of `title`."""

    def __init__(self, title: str, color: QColor | str = "#1f6fd1", parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.color = QColor(color)
        self.points: list[tuple[float, float]] = []
        self.setMinimumSize(240, 150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def add_point(self, x: float, y: float) -> None:
        if not math.isfinite(y):
            return
        if self.points and x <= self.points[-1][0]:
            self.points = [p for p in self.points if p[0] < x]   # a resumed run may go back in steps
        self.points.append((float(x), float(y)))
        self.update()

    def clear(self) -> None:
        self.points = []
        self.update()

    def last(self) -> tuple[float, float] | None:
        return self.points[-1] if self.points else None

    def _bounds(self) -> tuple[float, float, float, float]:
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        x0, x1 = min(xs), max(xs)
        y0, y1 = min(ys), max(ys)
        if x1 - x0 < 1e-9:
            x1 = x0 + 1
        pad = (y1 - y0) * 0.08 or max(abs(y1) * 0.1, 0.1)
        return x0, x1, y0 - pad, y1 + pad

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.fillRect(self.rect(), QColor(255, 255, 255))
        area = QRectF(MARGIN_LEFT, MARGIN_TOP, self.width() - MARGIN_LEFT - MARGIN_RIGHT,
                      self.height() - MARGIN_TOP - MARGIN_BOTTOM)
        painter.setPen(QColor(40, 40, 50))
        painter.drawText(QRectF(0, 2, self.width(), MARGIN_TOP - 4), Qt.AlignmentFlag.AlignCenter, self.title)
        painter.setPen(QColor(190, 190, 200))
        painter.drawRect(area)
        if not self.points:
            painter.setPen(QColor(130, 130, 140))
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "no data yet")
            painter.end()
            return
        x0, x1, y0, y1 = self._bounds()

        def to_px(x: float, y: float) -> QPointF:
            return QPointF(area.left() + (x - x0) / (x1 - x0) * area.width(),
                           area.bottom() - (y - y0) / (y1 - y0) * area.height())

        painter.setPen(QColor(90, 90, 100))
        for frac, label in zip((0.0, 0.5, 1.0), axis_labels(y0, y1)):
            py = to_px(x0, y0 + frac * (y1 - y0)).y()
            painter.drawText(QRectF(0, py - 8, MARGIN_LEFT - 4, 16),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
        painter.drawText(QRectF(area.left(), area.bottom() + 2, 80, 18), Qt.AlignmentFlag.AlignLeft, f"{x0:g}")
        painter.drawText(QRectF(area.right() - 120, area.bottom() + 2, 120, 18), Qt.AlignmentFlag.AlignRight,
                         f"step {x1:g}")
        path = QPainterPath(to_px(*self.points[0]))
        for point in self.points[1:]:
            path.lineTo(to_px(*point))
        painter.setPen(QPen(self.color, 2))
        painter.drawPath(path)
        painter.setBrush(self.color)
        last = to_px(*self.points[-1])
        painter.drawEllipse(last, 3, 3)
        painter.end()


def axis_labels(low: float, high: float) -> list[str]:
    """The labels of the bottom, middle and top of an axis from `low` to `high`,
    with as many decimals as it takes to tell them apart (16.87, 16.90, 16.93;
    three significant digits would read 16.9 three times)."""
    step = (high - low) / 2
    decimals = 0 if step <= 0 else max(0, min(6, math.ceil(-math.log10(step))))
    decimals = max(decimals, 1 if abs(high) < 100 else 0)
    return [f"{low + frac * (high - low):.{decimals}f}" for frac in (0.0, 0.5, 1.0)]
