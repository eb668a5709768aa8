"""In a scrolling panel the mouse wheel scrolls the panel: a drop-down, number
box or slider that slides under the pointer while scrolling must not change
the user's settings. Such a control takes the wheel only once it has focus
(clicked or tabbed to), as in the settings pages of desktop apps."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QScrollArea,
    QScrollBar,
    QWidget,
)

GUARDED = (QComboBox, QAbstractSpinBox, QAbstractSlider)
_MARK = "wheelGuarded"


class WheelGuard(QObject):
    """Guards the value controls inside a scroll area's widget: those there now and,
    when the panel's layout changes or it is shown, those added since."""

    def __init__(self, area: QScrollArea):
        super().__init__(area)
        self._area = area
        area.installEventFilter(self)
        area.widget().installEventFilter(self)
        self.guard_all()

    def guard_all(self) -> None:
        root = self._area.widget()
        if root is None:
            return
        for widget in root.findChildren(QWidget):
            if isinstance(widget, GUARDED) and not isinstance(widget, QScrollBar) and not widget.property(_MARK):
                widget.setProperty(_MARK, True)
                if widget.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)     # the wheel does not take focus
                widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.LayoutRequest, QEvent.Type.Show) and watched in (self._area, self._area.widget()):
            QTimer.singleShot(0, self, self.guard_all)
        elif kind == QEvent.Type.Wheel and isinstance(watched, GUARDED) and not watched.hasFocus():
            QApplication.sendEvent(self._area.viewport(), event)     # not the control's: the panel scrolls
            return True
        return False

