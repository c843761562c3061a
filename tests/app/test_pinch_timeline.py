"""Pinch annotation in the app: P and mouse edits, undo/redo, autosave and reload, repair reports,
live precision/recall against umetrack.metrics, and mismatches that jump the playhead."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtTest, QtWidgets

from umetrack.eval.ground_truth import gt_landmarks
from umetrack.metrics import PinchEvent, detect_pinch_events, pinch_precision_recall, precision_recall_from_counts

pytestmark = pytest.mark.gui

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample"
ANNOTATED = -33.0  # y (mm units) inside the annotated lane
CURVE = 40.0  # y above the lanes


@pytest.fixture
def sample_copy(tmp_path):
    """The bundled sample copied to tmp_path, so autosave never writes into resources/."""
    for path in SAMPLE.glob("recording_00.*"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path / "recording_00.mp4"


def spans(session, hand=0):
    return [(e.start, e.end) for e in session.pinch_annotations.intervals(hand)]


def _viewport_pos(panel, hand, frame, y):
    vb = panel.plots[hand].vb
    scene = vb.mapViewToScene(QtCore.QPointF(frame, y))
    return panel.graphics.mapFromScene(scene)


def _send(widget, kind, pos, button, buttons):
    event = QtGui.QMouseEvent(kind, QtCore.QPointF(pos), QtCore.QPointF(widget.mapToGlobal(pos)), button, buttons, QtCore.Qt.KeyboardModifier.NoModifier)
    QtWidgets.QApplication.sendEvent(widget, event)


def drag(panel, hand, y, from_x, to_x):
    """A real left-button drag on the timeline's viewport, in frames along x (moves spaced in time:
    pyqtgraph drops mouse moves closer than 10 ms, as a real mouse never sends them)."""
    viewport = panel.graphics.viewport()
    left = QtCore.Qt.MouseButton.LeftButton
    start = _viewport_pos(panel, hand, from_x, y)
    _send(viewport, QtCore.QEvent.Type.MouseButtonPress, start, left, left)
    for step in range(1, 6):
        QtTest.QTest.qWait(15)
        x = from_x + (to_x - from_x) * step / 5
        _send(viewport, QtCore.QEvent.Type.MouseMove, _viewport_pos(panel, hand, x, y), QtCore.Qt.MouseButton.NoButton, left)
    _send(viewport, QtCore.QEvent.Type.MouseButtonRelease, _viewport_pos(panel, hand, to_x, y), left, QtCore.Qt.MouseButton.NoButton)


def click(qtbot, panel, hand, frame, y, button=QtCore.Qt.MouseButton.LeftButton):
    qtbot.mouseClick(panel.graphics.viewport(), button, pos=_viewport_pos(panel, hand, frame, y))


@pytest.fixture
def timeline(main_window, sample_copy, qtbot):
    assert main_window.open_recording(sample_copy)
    main_window.pinch_timeline_dock.raise_()
    panel = main_window.pinch_timeline
    qtbot.waitUntil(panel.graphics.isVisible)
    main_window.resize(1400, 900)
    qtbot.wait(50)
    return main_window, panel


def test_annotate_undo_redo_autosave_and_reload(timeline, qtbot, settings, sample_copy):
    window, panel = timeline
    session = window.session
    assert session.pinch_annotations.is_empty
    click(qtbot, panel, 0, 50, CURVE)  # selects the left hand and seeks
    assert (session.selected_hand, session.playhead) == (0, 50)
    assert panel.graphics.hasFocus()
    qtbot.keyClick(panel.graphics, QtCore.Qt.Key.Key_P)
    assert spans(session) == [(50, 51)]
    assert session.visible_layers["prediction"]  # P went to the timeline, not to View ▸ Show prediction
    qtbot.keyClick(panel.graphics, QtCore.Qt.Key.Key_Right)
    qtbot.keyClick(panel.graphics, QtCore.Qt.Key.Key_P)
    assert (session.playhead, spans(session)) == (51, [(50, 52)])

    drag(panel, 0, ANNOTATED, 100, 120)  # empty lane space: create
    assert spans(session) == [(50, 52), (100, 121)]
    drag(panel, 0, ANNOTATED, 110, 130)  # the body: move by 20 frames
    assert spans(session) == [(50, 52), (120, 141)]
    drag(panel, 0, ANNOTATED, 140.5, 150)  # the end edge: resize
    assert spans(session) == [(50, 52), (120, 151)]
    drag(panel, 0, ANNOTATED, 119.5, 30)  # the start edge stops one frame after [50, 52)
    assert spans(session) == [(50, 52), (53, 151)]
    drag(panel, 1, ANNOTATED, 10, 14)  # the right hand's lane
    assert spans(session, 1) == [(10, 15)] and session.selected_hand == 1

    session.seek(130)
    click(qtbot, panel, 0, 100, ANNOTATED, QtCore.Qt.MouseButton.RightButton)
    menu = panel.context_menu
    actions = {a.text().split(" (")[0]: a for a in menu.actions()}
    assert actions["Merge with next"].isEnabled() is False
    actions["Split at playhead"].trigger()
    menu.close()
    assert spans(session) == [(50, 52), (53, 130), (131, 151)]
    session.seek(51)
    qtbot.keyClick(panel.graphics, QtCore.Qt.Key.Key_Delete)
    assert spans(session) == [(53, 130), (131, 151)]

    qtbot.keyClick(window, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert spans(session) == [(50, 52), (53, 130), (131, 151)]
    window.undo_action.trigger()
    assert spans(session) == [(50, 52), (53, 151)]
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier | QtCore.Qt.KeyboardModifier.ShiftModifier)
    assert spans(session) == [(50, 52), (53, 130), (131, 151)]
    assert panel.undo_stack.count() == 9 and panel.undo_stack.index() == 8  # one step per edit; the last one undone

    autosave = sample_copy.with_name("recording_00.pinch_annotations.json")
    assert autosave.exists() and session.annotation_autosave.path == autosave
    doc = json.loads(autosave.read_text())
    assert doc["left"] == [[50, 52], [53, 130], [131, 151]] and doc["right"] == [[10, 15]]
    expected = session.pinch_annotations.copy()
    window.close()

    from app.main_window import MainWindow
    from app.session import Session

    reopened = MainWindow(Session(), settings=settings)
    qtbot.addWidget(reopened)
    assert reopened.open_recording(sample_copy)
    assert reopened.session.pinch_annotations == expected
    assert not reopened.pinch_timeline.banner_frame.isVisibleTo(reopened.pinch_timeline)
    assert reopened.pinch_timeline.undo_stack.count() == 0


def test_overlapping_and_out_of_range_intervals_are_repaired_and_reported(main_window, sample_copy):
    autosave = sample_copy.with_name("recording_00.pinch_annotations.json")
    autosave.write_text(json.dumps({"format": "umetrack-studio.pinch-annotations", "version": 1, "num_frames": 300,
                                    "left": [[10, 30], [20, 40], [290, 320]], "right": []}))  # fmt: skip
    assert main_window.open_recording(sample_copy)
    assert spans(main_window.session) == [(10, 40), (290, 300)]
    panel = main_window.pinch_timeline
    assert panel.banner_frame.isVisibleTo(panel)
    assert panel.banner.text() == (
        "recording_00.pinch_annotations.json: repaired 2 problem(s) (written back at the next edit):\n"
        "• left[2] [290, 320) reaches outside frames 0..299: clipped to [290, 300)\n"
        "• left[1] [20, 40) overlaps left[0] [10, 30): merged into [10, 40)"
    )


def test_unreadable_labels_file_is_rejected_and_kept(main_window, sample_copy):
    autosave = sample_copy.with_name("recording_00.pinch_annotations.json")
    autosave.write_text(json.dumps({"format": "umetrack-studio.pinch-annotations", "version": 1, "num_frames": 300,
                                    "left": [[30, 10]], "right": []}))  # fmt: skip
    assert main_window.open_recording(sample_copy)
    session, panel = main_window.session, main_window.pinch_timeline
    assert session.pinch_annotations.is_empty
    assert panel.banner.text().startswith(f"Pinch annotations not loaded: {autosave}: field 'left[0]': end frame 10 must be greater than start frame 30")
    session.select_hand(0)
    assert panel.toggle_at_playhead()
    assert json.loads(autosave.with_name(autosave.name + ".rejected").read_text())["left"] == [[30, 10]]
    assert json.loads(autosave.read_text())["left"] == [[0, 1]]


def test_precision_recall_is_live_and_mismatches_jump(timeline, qtbot, tracked_from_landmarks):
    window, panel = timeline
    session = window.session
    recording = session.recording
    truth = gt_landmarks(recording)
    predicted = truth.copy()
    # Open the left hand's first GT pinch (a miss) and lose the right hand for a while.
    first = recording.pinch.events(0)[0]
    predicted[first.start : first.end, 0, 1] += 0.05
    predicted[100:140, 1] = np.nan
    session.set_tracking(tracked_from_landmarks(predicted))

    def expected(reference):
        scores = []
        for hand in (0, 1):
            points = session.tracking.landmarks[:, hand].astype(np.float64)
            events = detect_pinch_events(np.nan_to_num(points), np.isfinite(points).all((-1, -2)))
            scores.append(pinch_precision_recall(events, reference[hand]))
        counts = [sum(getattr(s, n) for s in scores) for n in ("true_positives", "false_positives", "false_negatives")]
        return scores, precision_recall_from_counts(*counts)

    scores, (precision, recall) = expected({h: recording.pinch.events(h) for h in (0, 1)})
    assert panel.reference_name == "ground truth"
    assert (panel.review.precision, panel.review.recall) == (precision, recall)
    assert [panel.review.per_hand[h] for h in (0, 1)] == scores
    assert recall < 1.0 and f"recall <b>{recall:.3f}</b>" in panel.summary_label.text()
    assert any(m.kind == "missed" and m.event.start == first.start for m in panel.review.mismatches)

    # The first annotation makes the annotations the reference, at once.
    session.select_hand(0)
    session.seek(first.start)
    panel.toggle_at_playhead()
    scores, (precision, recall) = expected({0: (PinchEvent(first.start, first.start + 1),), 1: ()})
    assert panel.reference_name == "annotations"
    assert (panel.review.precision, panel.review.recall) == (precision, recall)
    window.undo_action.trigger()
    assert panel.reference_name == "ground truth"

    # Double-clicking a mismatch moves the playhead to it.
    session.seek(0)
    item = panel.mismatch_list.topLevelItem(panel.mismatch_list.topLevelItemCount() - 1)
    hand, start = item.data(0, QtCore.Qt.ItemDataRole.UserRole)
    assert start > 0
    panel.mismatch_list.scrollToItem(item)
    rect = panel.mismatch_list.visualItemRect(item)
    where = QtCore.QPoint(rect.left() + 10, rect.center().y())
    # QTest's double click is only the second click: press once first, as a real double click does.
    qtbot.mouseClick(panel.mismatch_list.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=where)
    qtbot.mouseDClick(panel.mismatch_list.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=where)
    assert (session.playhead, session.selected_hand) == (start, hand)
