"""Entry point of ``umetrack-studio`` (and ``python main.py``)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="umetrack-studio", description="UmeTrack Studio: inspect hand tracking")
    parser.add_argument("--hand-model", help="hand model JSON (UmeTrack layout, mm); default: the bundled one")
    parser.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the main window and exit")
    args = parser.parse_args(argv)

    from PySide6 import QtCore, QtWidgets
    from vispy import app as vispy_app

    vispy_app.use_app("pyside6")
    qt_app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])

    from app.main_window import MainWindow
    from app.session import Session
    from umetrack.errors import UmeTrackError

    try:
        session = Session(args.hand_model)
    except UmeTrackError as exc:
        print(f"umetrack-studio: {exc}", file=sys.stderr)
        return 2
    window = MainWindow(session)
    window.show()
    if args.screenshot:
        def grab() -> None:
            window.grab().save(args.screenshot)
            qt_app.quit()

        QtCore.QTimer.singleShot(1500, grab)
    return qt_app.exec()


if __name__ == "__main__":
    sys.exit(main())
