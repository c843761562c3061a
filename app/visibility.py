"""Whether a panel can be seen, and a signal when it comes back on screen.

Panels that redraw costly content on every frame skip that work while nobody can see them and catch
up when they are shown again. ``QWidget.isVisible`` is not enough for that: Qt keeps the panel of a
dock that is tabbed away "visible" and moves the dock outside the window instead of hiding it.
"""

from __future__ import annotations

from typing import Callable

from PySide6 import QtCore, QtWidgets

_GEOMETRY_EVENTS = (QtCore.QEvent.Type.Show, QtCore.QEvent.Type.Move, QtCore.QEvent.Type.Resize, QtCore.QEvent.Type.ParentChange)


def on_screen(widget: QtWidgets.QWidget) -> bool:
    """Shown, not empty, and at least partly inside its window."""
    if not widget.isVisible() or widget.width() <= 0 or widget.height() <= 0:
        return False
    window = widget.window()
    if window is widget:
        return True
    return QtCore.QRect(widget.mapTo(window, QtCore.QPoint(0, 0)), widget.size()).intersects(window.rect())


class ShownWatcher(QtCore.QObject):
    """Calls ``on_shown()`` when ``widget`` comes on screen (shown, its dock tab raised, its dock
    floated or docked): it watches the widget and its ancestors up to the window for the show, move
    and resize events that change ``on_screen``. Synchronous: the callback runs in that event."""

    def __init__(self, widget: QtWidgets.QWidget, on_shown: Callable[[], None]):
        super().__init__(widget)
        self.widget = widget
        self.on_shown = on_shown
        self.was_on_screen = False
        self._watched: list[QtWidgets.QWidget] = []
        self._watch()

    def _watch(self) -> None:
        for watched in self._watched:
            watched.removeEventFilter(self)
        self._watched = []
        widget = self.widget
        while widget is not None:
            widget.installEventFilter(self)
            self._watched.append(widget)
            if widget.isWindow():
                break
            widget = widget.parentWidget()

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        kind = event.type()
        if kind in _GEOMETRY_EVENTS:
            if kind == QtCore.QEvent.Type.ParentChange:
                self._watch()
            self.check()
        elif kind == QtCore.QEvent.Type.Hide:
            self.was_on_screen = False
        return False

    def check(self) -> None:
        now = on_screen(self.widget)
        if now and not self.was_on_screen:
            self.was_on_screen = True
            self.on_shown()
        self.was_on_screen = now
