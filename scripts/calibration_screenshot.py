"""Screenshot of the hand-scale calibration dialog after a run on the bundled sample: calibrate from
frame 0, accept the profile, compare the generic and the calibrated skeleton over the chosen frames.

Everything runs for real (worker threads, the given network); pass the weights to show. No trained
weights ship yet, so the README picture uses an early checkpoint of a CPU training run: its scale
predictions are far off, which the dialog reports. Run under
``xvfb-run -a python scripts/calibration_screenshot.py WEIGHTS OUT.png [FRAMES]``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from screenshot_support import copy_sample, process_events, screenshot_window


def main(weights: Path, out: Path, frames: int) -> None:
    with screenshot_window() as (window, folder):
        window.show()
        window.open_recording(copy_sample(folder))
        dialog = window.open_calibration()
        dialog.model_edit.setText(str(weights))
        dialog.frames_spin.setValue(frames)
        if not dialog.start():
            raise SystemExit(dialog.message_label.text())
        # No time limit: a job always ends on its own (done or failed), however slow the machine.
        process_events(math.inf, until=lambda: not dialog.busy)
        if dialog.run is None:
            raise SystemExit(dialog.message_label.text())
        dialog.accept_profile(folder / "recording_00.hand_profile.json")
        dialog.compare()
        process_events(math.inf, until=lambda: not dialog.busy)
        dialog.table.scrollToTop()
        process_events(0.2)
        out.parent.mkdir(parents=True, exist_ok=True)
        dialog.grab().save(str(out))
        print(dialog.message_label.text())


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 60)
