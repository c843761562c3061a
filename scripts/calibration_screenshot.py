"""Screenshot of the hand-scale calibration dialog after a run on the bundled sample: calibrate from
frame 0, accept the profile, compare the generic and the calibrated skeleton over the chosen frames.

Everything runs for real (worker threads, the given network); pass the weights to show. No trained
weights ship yet, so the README picture uses an early checkpoint of a CPU training run: its scale
predictions are far off, which the dialog reports. Run under
``xvfb-run -a python scripts/calibration_screenshot.py WEIGHTS OUT.png [FRAMES]``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from PySide6 import QtCore, QtWidgets

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.main_window import MainWindow  # noqa: E402
from app.session import SAMPLE_RECORDING, Session  # noqa: E402


def wait_until_idle(dialog) -> None:
    loop = QtCore.QEventLoop()
    timer = QtCore.QTimer()
    timer.timeout.connect(lambda: None if dialog.busy else loop.quit())
    timer.start(100)
    loop.exec()
    timer.stop()


def main(weights: Path, out: Path, frames: int) -> None:
    application = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    with tempfile.TemporaryDirectory() as folder:
        for path in SAMPLE_RECORDING.parent.glob("recording_00.*"):
            if not path.name.endswith(".pinch_annotations.json"):
                shutil.copy(path, Path(folder) / path.name)
        settings = QtCore.QSettings(str(Path(folder) / "settings.ini"), QtCore.QSettings.Format.IniFormat)
        window = MainWindow(Session(), settings=settings)
        window.resize(1600, 1000)
        window.show()
        window.open_recording(Path(folder) / SAMPLE_RECORDING.name)
        dialog = window.open_calibration()
        dialog.model_edit.setText(str(weights))
        dialog.frames_spin.setValue(frames)
        if not dialog.start():
            raise SystemExit(dialog.message_label.text())
        wait_until_idle(dialog)
        if dialog.run is None:
            raise SystemExit(dialog.message_label.text())
        dialog.accept_profile(Path(folder) / "recording_00.hand_profile.json")
        dialog.compare()
        wait_until_idle(dialog)
        dialog.table.scrollToTop()
        for _ in range(5):
            application.processEvents()
        out.parent.mkdir(parents=True, exist_ok=True)
        dialog.grab().save(str(out))
        print(dialog.message_label.text())
        window.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 60)
