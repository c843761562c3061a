import warnings

import pytest
from PySide6 import QtCore, QtWidgets


def activate(window) -> None:
    """Make ``window`` the active window so its keyboard shortcuts fire. Xvfb runs no window
    manager, so a plain activateWindow() request is never granted there; Qt's (deprecated)
    direct setter does what a window manager would."""
    window.activateWindow()
    if QtWidgets.QApplication.activeWindow() is not window:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            QtWidgets.QApplication.setActiveWindow(window)


@pytest.fixture
def settings(tmp_path):
    """An isolated QSettings file so tests never read or write the user's layout."""
    return QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)


@pytest.fixture
def main_window(qtbot, settings):
    from vispy import app as vispy_app

    vispy_app.use_app("pyside6")
    from app.main_window import MainWindow
    from app.session import Session

    window = MainWindow(Session(), settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    activate(window)
    return window


@pytest.fixture(autouse=True)
def collect_garbage_on_the_gui_thread(qapp):
    """As the app does (``app.main``, pyqtgraph's GarbageCollector): no automatic cyclic collection
    while a GUI test runs, whose worker threads would otherwise collect widgets left in reference
    cycles by earlier tests (a widget destroyed off the GUI thread deadlocked the suite), then one
    collection here, on the GUI thread."""
    import gc

    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        gc.enable()
