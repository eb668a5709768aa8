"""A layout that puts its widgets in a row and wraps them onto the next row
when the width runs out (Qt has none built in), so a row of buttons stays
whole in a narrow window instead of forcing the window wider."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QSize, Qt, QTimer
from PySide6.QtWidgets import QFrame, QLayout, QLayoutItem, QScrollArea, QWidget

from gui.wheel_guard import WheelGuard


class FlowLayout(QLayout):
    def __init__(self, parent: QWidget | None = None, spacing: int = 6):
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.setContentsMargins(0, 0, 0, 0)
        self.setSpacing(spacing)

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:
        """All on one row."""
        visible = [item.sizeHint() for item in self._items if not item.isEmpty()]
        width = sum(s.width() for s in visible) + self.spacing() * max(0, len(visible) - 1)
        return QSize(width, max((s.height() for s in visible), default=0))

    def minimumSize(self) -> QSize:
        """As narrow as the widest widget."""
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        return size

    def _arrange(self, rect: QRect, *, move: bool) -> int:
        """Place the items in rows within `rect` (when `move`), each centred in
        the height of its row; the height they take."""
        rows: list[list[QLayoutItem]] = [[]]
        x = rect.x()
        for item in self._items:
            if item.isEmpty():
                continue
            width = item.sizeHint().width()
            if x > rect.x() and x + width > rect.right() + 1:
                rows.append([])
                x = rect.x()
            rows[-1].append(item)
            x += width + self.spacing()
        y = rect.y()
        for row in rows:
            height = max((item.sizeHint().height() for item in row), default=0)
            x = rect.x()
            for item in row:
                hint = item.sizeHint()
                if move:
                    item.setGeometry(QRect(QPoint(x, y + (height - hint.height()) // 2), hint))
                x += hint.width() + self.spacing()
            y += height + self.spacing()
        return max(0, y - self.spacing() - rect.y())


class WrappingBox(QWidget):
    """A widget over a vertical box layout whose minimum height counts its wrapped
    rows (a FlowLayout's height at the box's width): a splitter, which reads only
    minimumSizeHint, then cannot squeeze those rows and cut them. (Qt's own
    heightForWidth of a box is its preferred height, too tall for a minimum.)"""

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(hint.width(), max(hint.height(), self.heightForWidth(self.width())))

    def heightForWidth(self, width: int) -> int:
        """The rows' minimum heights at `width` (a scroll area over the box asks this too)."""
        layout = self.layout()
        if layout is None:
            return super().heightForWidth(width)
        margins = layout.contentsMargins()
        inner = width - margins.left() - margins.right()
        items = [layout.itemAt(i) for i in range(layout.count())]
        items = [item for item in items if not item.isEmpty()]
        height = sum(_minimum_height(item, inner) for item in items)
        return height + layout.spacing() * max(0, len(items) - 1) + margins.top() + margins.bottom()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.updateGeometry()          # the rows wrap differently: a new minimum height


def _minimum_height(item: QLayoutItem, width: int) -> int:
    """The least height of `item` at `width`. (A nested WrappingBox is asked itself:
    Qt asks a widget's layout, which would give its preferred height.)"""
    if isinstance(item.widget(), WrappingBox):
        return item.widget().heightForWidth(width)
    return item.heightForWidth(width) if item.hasHeightForWidth() else item.minimumSize().height()


class FittedScrollArea(QScrollArea):
    """Scrolls `widget` vertically in a small window, and is never taller than it,
    so in a large window what follows the area stays right under its content."""

    def __init__(self, widget: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidget(widget)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        widget.installEventFilter(self)
        self._fit_height()
        WheelGuard(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            QTimer.singleShot(0, self, self._fit_height)    # rows shown or hidden (another kind of model)
        return False

    def _fit_height(self) -> None:
        if self.widget() is None:
            return
        frame = 2 * self.frameWidth() if self.frameShape() != QFrame.Shape.NoFrame else 0
        self.setMaximumHeight(self.widget().sizeHint().height() + frame)
