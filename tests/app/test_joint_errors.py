"""Per-joint error panel: values at the playhead on the hand diagram and in the table, joint selection
by clicking the diagram, the joint's error over time."""

import numpy as np
import pytest
from PySide6 import QtCore

from app.panels.joint_errors import SELECTED_PEN
from app.session import SAMPLE_RECORDING
from app.visibility import on_screen
from umetrack.eval.ground_truth import gt_landmarks
from umetrack.hand.model import LANDMARK_NAMES
from umetrack.track.results import REASONS
from umetrack.track.tracker import Reason

pytestmark = pytest.mark.gui

INDEX_TIP = LANDMARK_NAMES.index("index_tip")
LEFT, RIGHT = 0, 1


@pytest.fixture
def tracked_sample(main_window, tracked_from_landmarks):
    """The bundled sample with 'predictions' = GT, except the left index tip 30 mm off on frame 40
    and the right hand lost (lost track) on frames 60-69."""
    window = main_window
    assert window.open_recording(SAMPLE_RECORDING)
    truth = gt_landmarks(window.session.recording)
    predicted = truth.copy()
    predicted[40, LEFT, INDEX_TIP] += (0.0, 0.03, 0.0)
    predicted[60:70, RIGHT] = np.nan
    reasons = np.full((len(truth), 2), REASONS.index(Reason.LOST_TRACK), np.int8)
    window.session.set_tracking(tracked_from_landmarks(predicted, reasons))
    return window


def _show(window, qtbot):
    """Raise the panel's tab (behind the plots by default; off screen the panel draws nothing)."""
    window.joint_errors_dock.raise_()
    qtbot.waitUntil(lambda: on_screen(window.joint_errors))


def _wait_computed(qtbot, panel):
    qtbot.waitUntil(lambda: panel.errors is not None, timeout=10000)


def test_without_tracking_the_panel_says_so(main_window):
    panel = main_window.joint_errors
    main_window.joint_errors_dock.raise_()
    assert main_window.session.tracking is None
    assert panel.message.text().startswith("No tracking results")
    assert np.isnan(panel.shown_errors).all()
    assert panel.table.item(INDEX_TIP, LEFT).text() == "—"


def test_errors_at_the_playhead_on_the_diagram_and_in_the_table(tracked_sample, qtbot):
    window = tracked_sample
    _show(window, qtbot)
    panel = window.joint_errors
    _wait_computed(qtbot, panel)
    assert panel.message.isHidden()
    window.session.seek(40)
    assert panel.shown_errors[LEFT, INDEX_TIP] == pytest.approx(30.0, abs=1e-3)
    assert panel.table.item(INDEX_TIP, LEFT).text() == "30.0"
    others = np.delete(panel.shown_errors[LEFT], INDEX_TIP)
    assert np.abs(others).max() < 1e-3
    assert panel.table.item(INDEX_TIP, RIGHT).text() == "0.0"
    # The dot is coloured by its error: 30 mm of a 0-50 mm scale is past yellow, towards red.
    brushes = panel.dots[LEFT].brushes
    tip, wrist = brushes[INDEX_TIP].color(), brushes[LANDMARK_NAMES.index("wrist")].color()
    assert tip.red() > 200 and tip.green() < 200 and wrist.green() > 150 and wrist.red() < 100
    # A lost hand has no numbers; its caption gives the tracker's reason.
    window.session.seek(65)
    assert panel.table.item(INDEX_TIP, RIGHT).text() == "—"
    assert panel.titles[RIGHT].toPlainText() == "right\nlost track"
    window.session.seek(41)
    assert panel.table.item(INDEX_TIP, LEFT).text() == "0.0"


def test_clicking_a_joint_selects_it_and_plots_its_error_over_time(tracked_sample, qtbot):
    window = tracked_sample
    panel = window.joint_errors
    _wait_computed(qtbot, panel)
    window.joint_errors_dock.raise_()
    qtbot.waitExposed(panel.graphics)
    window.session.seek(40)
    assert panel.joint_curve.getData()[0] is None or len(panel.joint_curve.getData()[0]) == 0
    # Click the left index tip's dot on the diagram, as a user does.
    box, dots = panel.diagrams[LEFT], panel.dots[LEFT]
    x, y = dots.positions[INDEX_TIP]
    # 20 screen pixels below the wrist (the lowest dot) there is none to click; 4 pixels off the tip is the tip.
    pixel = box.viewPixelSize()[1]
    wrist = dots.positions[LANDMARK_NAMES.index("wrist")]
    assert dots.dot_at(QtCore.QPointF(wrist[0], wrist[1] - 20 * pixel)) is None
    assert dots.dot_at(QtCore.QPointF(x + 4 * pixel, y)) == INDEX_TIP
    assert panel._tip(LEFT, INDEX_TIP) == "left index_tip: 30.0 mm"
    scene_point = box.mapViewToScene(QtCore.QPointF(float(x), float(y)))
    widget_point = panel.graphics.mapFromScene(scene_point)
    qtbot.mouseClick(panel.graphics.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=widget_point)
    qtbot.waitUntil(lambda: window.session.selected_joint == INDEX_TIP, timeout=3000)
    assert window.session.selected_hand == LEFT
    assert dots.pens[INDEX_TIP] is SELECTED_PEN and dots.pens[INDEX_TIP + 1] is not SELECTED_PEN  # outlined
    frames, values = panel.joint_curve.getData()
    assert len(values) == window.session.num_frames
    assert values[40] == pytest.approx(30.0, abs=1e-3)
    assert np.nanmax(np.delete(values, 40)) < 1e-3
    assert panel.cursor.value() == 40
    assert panel.table.currentRow() == INDEX_TIP and panel.table.currentColumn() == LEFT
    # The selection is the session's: selecting the other hand keeps the joint and the plot follows.
    window.session.select_hand(RIGHT)
    _frames, values = panel.joint_curve.getData()
    assert np.isnan(values[60:70]).all() and np.nanmax(values) < 1e-3
    assert "right index_tip" in panel.joint_plot.getPlotItem().titleLabel.text
    # Clicking a table cell selects that (hand, joint) too.
    panel.table.cellClicked.emit(LANDMARK_NAMES.index("wrist"), LEFT)
    assert (window.session.selected_hand, window.session.selected_joint) == (LEFT, LANDMARK_NAMES.index("wrist"))
    window.session.seek(55)
    assert panel.cursor.value() == 55


def test_the_joint_plot_frames_the_recording_while_the_playhead_moves(tracked_sample, qtbot):
    """The cursor is no data: with no joint selected the plot used to re-frame itself around it on
    every frame (a jumping axis, redrawn each frame)."""
    window = tracked_sample
    _show(window, qtbot)
    panel = window.joint_errors
    _wait_computed(qtbot, panel)
    box = panel.joint_plot.getPlotItem().vb
    last = window.session.num_frames - 1
    for frame in (10, 11, 200):
        window.session.seek(frame)
        qtbot.wait(5)
        low, high = box.viewRange()[0]
        assert low <= 0 and high >= last and high - low < 1.1 * last, (frame, low, high)
        assert panel.cursor.value() == frame


def test_a_tabbed_away_panel_draws_nothing_and_catches_up_when_shown(tracked_sample, qtbot):
    window = tracked_sample
    _show(window, qtbot)
    panel = window.joint_errors
    _wait_computed(qtbot, panel)
    window.session.seek(39)
    assert panel.table.item(INDEX_TIP, LEFT).text() != "30.0"
    window.plots_dock.raise_()  # the per-joint panel's tab is now behind the plots
    qtbot.waitUntil(lambda: panel.frame_stale or not on_screen(panel))
    window.session.seek(40)
    assert panel.frame_stale and panel.cursor.value() == 39  # nothing redrawn off screen
    window.joint_errors_dock.raise_()
    qtbot.waitUntil(lambda: not panel.frame_stale)
    assert panel.table.item(INDEX_TIP, LEFT).text() == "30.0" and panel.cursor.value() == 40
