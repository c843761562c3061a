"""What every screenshot script sets up the same way: the repository on ``sys.path``, a main window
with throwaway settings in a temporary folder, a private copy of the bundled sample, and letting the
event loop run (worker threads deliver, panels repaint) before grabbing.

The scripts import it as a sibling module (``python scripts/NAME.py`` puts ``scripts/`` on the path).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from PySide6 import QtCore, QtWidgets

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from app.main_window import MainWindow  # noqa: E402
from app.session import SAMPLE_RECORDING, Session  # noqa: E402

WINDOW_SIZE = (1600, 1000)
"""The size of every README screenshot, so the pictures line up."""


@contextmanager
def screenshot_window() -> Iterator[tuple[MainWindow, Path]]:
    """A main window (not yet shown) and a temporary folder for the script's files; the window's
    layout settings live in that folder, so a screenshot never reads or changes the user's layout.
    The window is closed and the folder deleted afterwards."""
    from vispy import app as vispy_app

    QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    vispy_app.use_app("pyside6")  # the 3D view on the same Qt binding as the window (as the app and tests do)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        settings = QtCore.QSettings(str(folder / "settings.ini"), QtCore.QSettings.Format.IniFormat)
        window = MainWindow(Session(), settings=settings)
        window.resize(*WINDOW_SIZE)
        try:
            yield window, folder
        finally:
            window.close()


def copy_sample(folder: Path) -> Path:
    """Copy the bundled sample recording into ``folder`` and return the copy's path. The session
    autosaves pinch annotations next to the recording: on a copy that never touches the bundled
    sample. The sample's own annotation file is left out, so the picture starts from none."""
    for path in SAMPLE_RECORDING.parent.glob(f"{SAMPLE_RECORDING.stem}.*"):
        if not path.name.endswith(".pinch_annotations.json"):
            shutil.copy(path, folder / path.name)
    return folder / SAMPLE_RECORDING.name


def process_events(seconds: float, until: Callable[[], bool] = lambda: False) -> None:
    """Run the event loop for ``seconds``, or until ``until()`` holds."""
    application = QtWidgets.QApplication.instance()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        application.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.005)
