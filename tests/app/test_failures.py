"""Failure finder panel: the ranked list of injected failures, and jumping to one as a user does."""

import numpy as np
import pytest
from PySide6 import QtCore

from app.session import SAMPLE_RECORDING
from umetrack.eval.ground_truth import gt_landmarks
from umetrack.hand.model import LANDMARK_NAMES
from umetrack.track.results import REASONS
from umetrack.track.tracker import Reason

pytestmark = pytest.mark.gui

LEFT, RIGHT = 0, 1
INDEX_TIP = LANDMARK_NAMES.index("index_tip")


@pytest.fixture
def tracked_sample(main_window, tracked_from_landmarks, qtbot):
    """The bundled sample with 'predictions' = GT, except: the left index tip 300 mm off on frame 40
    (an MPJPE spike of ~14 mm), hands swapped on frames 100-110, the right hand lost on 200-219."""
    window = main_window
    assert window.open_recording(SAMPLE_RECORDING)
    truth = gt_landmarks(window.session.recording)
    predicted = truth.copy()
    predicted[40, LEFT, INDEX_TIP] += (0.0, 0.3, 0.0)
    predicted[100:111] = truth[100:111, ::-1]
    predicted[200:220, RIGHT] = np.nan
    reasons = np.full((len(truth), 2), REASONS.index(Reason.LOST_TRACK), np.int8)
    window.session.set_tracking(tracked_from_landmarks(predicted, reasons))
    qtbot.waitUntil(lambda: window.failures.table.rowCount() > 0, timeout=10000)
    return window


def _rows(table):
    return [[table.item(row, column).text() for column in range(table.columnCount())] for row in range(table.rowCount())]


def test_without_tracking_the_list_is_empty_and_says_why(main_window):
    assert main_window.failures.table.rowCount() == 0
    assert main_window.failures.message.text().startswith("No tracking results")


def test_injected_failures_are_listed_worst_first(tracked_sample):
    rows = _rows(tracked_sample.failures.table)
    # Swaps score their mean error (~370 mm here) over 10 mm; the spike 14.3 mm over 10 mm; the loss 20 / 15 frames.
    # Both swaps score the same (the hands are the same distance apart either way): left first.
    assert [row[:3] for row in rows] == [
        ["left/right swap", "left", "100–110"],
        ["left/right swap", "right", "100–110"],
        ["MPJPE spike", "left", "40"],
        ["track loss", "right", "200–219"],
    ]
    by_kind = {(row[0], row[1]): row for row in rows}
    assert by_kind[("track loss", "right")][4] == "lost track for 20 frames"
    assert by_kind[("track loss", "right")][3] == "1.3"  # 20 frames / 15
    spike = by_kind[("MPJPE spike", "left")]
    assert spike[4].endswith("worst joint index_tip 300.0 mm")
    assert float(spike[3]) == pytest.approx(300 / 21 / 10, abs=0.05)
    assert tracked_sample.failures.message.text().startswith("4 failures")


def test_double_click_and_enter_jump_to_the_failure(tracked_sample, qtbot):
    window = tracked_sample
    window.failures_dock.raise_()
    table = window.failures.table
    rows = _rows(table)
    spike_row = next(i for i, row in enumerate(rows) if row[0] == "MPJPE spike")
    loss_row = next(i for i, row in enumerate(rows) if row[0] == "track loss")
    assert window.session.playhead == 0
    # Double-click the MPJPE spike: playhead on frame 40, the left hand's worst joint selected.
    rect = table.visualRect(table.model().index(spike_row, 0))
    qtbot.mouseClick(table.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(table.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.session.playhead == 40
    assert (window.session.selected_hand, window.session.selected_joint) == (LEFT, INDEX_TIP)
    # The per-joint panel follows the session: it shows that joint's 300 mm at frame 40 (once shown:
    # a tabbed-away panel draws nothing until then).
    window.joint_errors_dock.raise_()
    qtbot.waitUntil(lambda: window.joint_errors.errors is not None, timeout=10000)
    assert window.joint_errors.table.item(INDEX_TIP, LEFT).text() == "300.0"
    # Enter on the loss row: the loss starts at frame 200, right hand.
    table.setFocus()
    table.setCurrentCell(loss_row, 0)
    qtbot.keyClick(table, QtCore.Qt.Key.Key_Return)
    assert window.session.playhead == 200
    assert window.session.selected_hand == RIGHT
    # A new tracking result replaces the list; clearing it empties the list.
    window.session.set_tracking(None)
    assert table.rowCount() == 0
