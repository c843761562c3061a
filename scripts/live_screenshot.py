"""Screenshot of live mode: the simulated headset streamed in real time through the tracker, with the
HUD (per-stage latency and fps), a simulated unplug of one camera (banner, "no signal" view) and
recording on.

Predictions come from ``--model`` (default: the shipped ``resources/weights/umetrack_light.pt``; without
it the HUD says "no model" and only ground truth is drawn). Run under
``xvfb-run -a python scripts/live_screenshot.py [--model WEIGHTS] [--out docs/screenshots/live.png]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PySide6 import QtCore, QtWidgets

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.live_actions import DEFAULT_MODEL, LiveConfig  # noqa: E402
from app.main_window import MainWindow  # noqa: E402
from app.session import Session  # noqa: E402


def _wait(app: QtWidgets.QApplication, seconds: float, until=lambda: False) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots" / "live.png")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from vispy import app as vispy_app

    app = QtWidgets.QApplication(sys.argv)
    vispy_app.use_app("pyside6")
    with tempfile.TemporaryDirectory() as folder:
        settings = QtCore.QSettings(str(Path(folder) / "settings.ini"), QtCore.QSettings.Format.IniFormat)
        window = MainWindow(Session(), settings=settings)
        window.resize(1600, 1000)
        window.show()
        actions = window.live_actions
        actions.start_live(LiveConfig(source="simulated", seed=args.seed, num_views=4, model_path=args.model, record_folder=Path(folder)))
        _wait(app, 120, lambda: window.session.live.active)
        _wait(app, 8)
        actions.record_action.setChecked(True)
        _wait(app, 2)
        actions.simulate_unplug(3, 10.0)
        _wait(app, 3)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(args.out))
        print(actions.panel.hud.text())
        print(actions.panel.banner.text())
        actions.record_action.setChecked(False)
        _wait(app, 30, lambda: actions.last_recording is not None)
        window.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
