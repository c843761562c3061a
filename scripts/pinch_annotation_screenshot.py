"""Screenshot of the pinch timeline: GT, predicted and annotated lanes over the thumb-index distance.

No trained weights ship yet, so the "predictions" here are the sample's GT landmarks with 3 mm of
noise and two staged errors (an opened pinch, a lost right hand): the picture shows the workflow,
not the tracker's accuracy. Run under ``xvfb-run -a python scripts/pinch_annotation_screenshot.py OUT.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PySide6 import QtCore
from screenshot_support import REPO, copy_sample, process_events, screenshot_window

from umetrack.eval.ground_truth import gt_landmarks  # noqa: E402
from umetrack.track.results import REASONS, TrackedRecording  # noqa: E402
from umetrack.track.tracker import Reason, TrackerOptions  # noqa: E402


def staged_predictions(truth: np.ndarray) -> TrackedRecording:
    rng = np.random.default_rng(0)
    predicted = truth + rng.normal(0.0, 0.003, truth.shape)
    predicted[231:294, 0, 1] += 0.04  # an opened thumb: a missed left pinch
    predicted[150:175, 1] = np.nan  # the right hand lost for a while
    n = len(predicted)
    tracked = np.isfinite(predicted).all((-1, -2))
    reasons = np.where(tracked, REASONS.index(Reason.TRACKED), REASONS.index(Reason.NOT_DETECTED)).astype(np.int8)
    return TrackedRecording(predicted.astype(np.float32), reasons, np.full((n, 2, 2), -1, np.int8), np.zeros((n, 2, 2, 96, 96), np.uint8),
                            np.full((n, 2, 2, 4, 4), np.nan, np.float32), np.full((n, 2, 2), np.nan, np.float32), tracked.astype(np.float32), TrackerOptions())  # fmt: skip


def main(out: Path) -> None:
    with screenshot_window() as (window, folder):
        window.open_recording(copy_sample(folder))
        session, panel = window.session, window.pinch_timeline
        session.set_tracking(staged_predictions(gt_landmarks(session.recording)))
        # An annotator's pass: the GT pinches of the left hand, one of them trimmed, and one right-hand pinch.
        for event in session.recording.pinch.events(0):
            panel.push(session.pinch_annotations.create(0, event.start + 2, event.end))
        right = session.recording.pinch.events(1)
        if right:
            panel.push(session.pinch_annotations.create(1, right[0].start, right[0].end))
        window.pinch_timeline_dock.raise_()
        window.resizeDocks([window.pinch_timeline_dock], [430], QtCore.Qt.Orientation.Vertical)
        session.select_hand(0)
        window.show()
        session.seek(240)
        process_events(2.0)
        window.grab().save(str(out))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshots" / "pinch_annotation.png")
