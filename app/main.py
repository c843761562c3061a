"""Entry point of ``umetrack-studio`` (and ``python main.py``)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="umetrack-studio", description="UmeTrack Studio: inspect hand tracking")
    parser.add_argument("recording", nargs="?", help="recording to open (UmeTrack raw .mp4/.json, challenge .tar, HOT3D folder); default: the bundled sample")
    parser.add_argument("--hand-model", help="hand model JSON (UmeTrack layout, mm); default: the bundled one")
    parser.add_argument("--session", metavar="FILE", help="restore a saved session (sessions/*.session.json) instead of opening a recording")
    parser.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the main window and exit")
    args = parser.parse_args(argv)
    if args.session and args.recording:
        parser.error("give a recording or --session, not both (the session names its recording)")

    from PySide6 import QtCore, QtWidgets
    from vispy import app as vispy_app

    vispy_app.use_app("pyside6")
    qt_app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    from pyqtgraph.util.garbage_collector import GarbageCollector

    # Cyclic garbage is collected on the GUI thread only: the automatic collector runs in whichever
    # thread allocates, and a Qt object collected in a worker thread deadlocks or crashes Qt
    # (seen: a widget's destructor waiting for the GIL inside a tracking worker's gc pass).
    garbage_collector = GarbageCollector(interval=1.0)  # noqa: F841 (its timer lives while main runs)

    from app.main_window import MainWindow
    from app.session import Session
    from umetrack.errors import UmeTrackError

    try:
        session = Session(args.hand_model)
    except UmeTrackError as exc:
        print(f"umetrack-studio: {exc}", file=sys.stderr)
        return 2
    # Screenshots use a fresh layout, not the user's saved one, so they are reproducible.
    settings = QtCore.QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QtCore.QSettings.Format.IniFormat) if args.screenshot else None
    window = MainWindow(session, settings)
    window.show()
    open_at_start(window, args.recording, args.session)
    if args.screenshot:
        def grab() -> None:
            window.grab().save(args.screenshot)
            qt_app.quit()

        QtCore.QTimer.singleShot(1500, grab)
    return qt_app.exec()


def open_at_start(window, recording: str | None, session_file: str | None) -> None:
    """Restore ``session_file`` if given; if there is none, or it cannot be restored (the window has
    said why), open ``recording`` or else the bundled sample."""
    from app.session import SAMPLE_RECORDING

    if session_file is not None and window.session_actions.open(session_file):
        return
    recording = recording or (SAMPLE_RECORDING if SAMPLE_RECORDING.exists() else None)
    if recording is not None:
        window.open_recording(recording)


if __name__ == "__main__":
    sys.exit(main())
