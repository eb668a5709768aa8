"""The results panel's vertical splitter: the list and its buttons above, the
roll below. The top gets the height its rows need (wrapped button rows and
MIN_ROWS variations: gui.flow_layout.WrappingBox), and in a larger window up
to TOP_SHARE of the height, enough for WANTED_ROWS variations, as long as the
roll keeps ROLL_SHARE of the height; in a smaller window the top scrolls instead of
cutting its rows or growing the window. Once the handle is dragged, the
user's split is kept."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QBoxLayout, QFrame, QScrollArea, QSplitter, QVBoxLayout, QWidget

from gui.flow_layout import WrappingBox
from gui.variations import MIN_ROWS, VariationList

ROLL_SHARE = 0.45
TOP_SHARE = 0.3
WANTED_ROWS = 16            # the most variations a run makes
WIDE = 1500                 # px of the panel from which the list stands left of the roll
SIDE_WIDTH = 440            # the list's column then


class FitSplitter(QSplitter):
    def __init__(self, top: QWidget, bottom: QWidget, variations: VariationList, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Vertical, parent)
        self.top, self.variations = top, variations
        scroll = self.top_scroll = QScrollArea()
        scroll.setWidget(top)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumHeight(60)
        self.addWidget(scroll)
        self.addWidget(bottom)
        self.setChildrenCollapsible(False)
        self.setStretchFactor(1, 1)
        self.user_split = False          # the handle was dragged: keep the user's sizes
        self.splitterMoved.connect(self._on_moved)
        top.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.top and event.type() in (QEvent.Type.LayoutRequest, QEvent.Type.Resize):
            # a line shown or hidden, rows wrapped anew; later, not inside the event
            # (that may come while widgets are being deleted), and dropped with the splitter
            QTimer.singleShot(0, self, self.fit)
        return False

    def _on_moved(self, _pos: int, _index: int) -> None:
        self.user_split = True

    def fit(self) -> None:
        """Give the top what it needs at its width (more in a large window), the roll at least ROLL_SHARE."""
        if self.user_split:
            return
        total = sum(self.sizes())
        if total <= 0:
            return
        needed = self.top.minimumSizeHint().height()
        if not self.top.isAncestorOf(self.variations):        # (the list stands beside: see ResultsBody)
            wanted = needed
        else:
            wanted = min(needed + (WANTED_ROWS - MIN_ROWS) * self.variations.row_height(),
                         max(needed, int(total * TOP_SHARE)))
        top = max(self.top_scroll.minimumHeight(), min(wanted, int(total * (1 - ROLL_SHARE))))
        if self.sizes()[0] != top:
            self.setSizes([top, total - top])

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit()


class ResultsBody(QWidget):
    """The panel under its heading. Narrow: the list (with the takes beside it) and
    the actions above the roll (FitSplitter). From WIDE px on, the list and the
    takes stand in a column left of the actions and the roll, which then get the
    whole height, instead of a wide, mostly empty list over the roll."""

    def __init__(self, list_box: QWidget, lists: QBoxLayout, actions: QWidget, roll: QWidget,
                 variations: VariationList, parent: QWidget | None = None):
        super().__init__(parent)
        self.list_box, self.lists = list_box, lists
        self.top = WrappingBox()
        top_layout = QVBoxLayout(self.top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(actions)
        self.splitter = FitSplitter(self.top, roll, variations)
        self.side = QWidget()
        side_layout = QVBoxLayout(self.side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        self.outer = QSplitter(Qt.Orientation.Horizontal)
        self.outer.addWidget(self.side)
        self.outer.addWidget(self.splitter)
        self.outer.setStretchFactor(1, 1)
        self.outer.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.outer)
        self.wide: bool | None = None
        self.place(False)

    def place(self, wide: bool) -> None:
        """Put the list in the side column (`wide`) or over the actions."""
        if wide == self.wide:
            return
        self.wide = wide
        if wide:
            self.side.layout().addWidget(self.list_box)
            self.lists.setDirection(QBoxLayout.Direction.TopToBottom)
            self.side.show()
            self.outer.setSizes([SIDE_WIDTH, max(1, self.width() - SIDE_WIDTH)])
        else:
            self.top.layout().insertWidget(0, self.list_box, 1)
            self.lists.setDirection(QBoxLayout.Direction.LeftToRight)
            self.side.hide()
        self.splitter.fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.place(event.size().width() >= WIDE)
