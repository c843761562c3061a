"""Pinch annotation model: interval edits with exact results, exact undo, file formats, repair/reject."""

import json

import numpy as np
import pytest

from umetrack.annotation.pinch_files import (
    AnnotationAutosave,
    annotations_path_for,
    read_annotations,
    read_annotations_csv,
    read_annotations_eaf,
    read_annotations_json,
    write_annotations,
)
from umetrack.annotation.pinch_intervals import HandInterval, IntervalChange, PinchAnnotations
from umetrack.annotation.pinch_review import predicted_pinch_events, review_pinches
from umetrack.errors import FormatError
from umetrack.metrics import PinchEvent, detect_pinch_events, pinch_precision_recall, precision_recall_from_counts

E = PinchEvent


def spans(annotations, hand=0):
    return [(e.start, e.end) for e in annotations.intervals(hand)]


@pytest.fixture
def annotations():
    return PinchAnnotations(100, {0: [(10, 20), (30, 40)], 1: [(5, 8)]})


def apply_and_check_undo(annotations, change):
    before = annotations.copy()
    annotations.apply(change)
    after = annotations.copy()
    annotations.apply(change.inverted())
    assert annotations == before
    annotations.apply(change)
    assert annotations == after


def test_create_paints_and_absorbs_touching_intervals(annotations):
    change = annotations.create(0, 20, 26)  # touches [10, 20)
    assert change.removed == (HandInterval(0, E(10, 20)),)
    assert change.added == (HandInterval(0, E(10, 26)),)
    apply_and_check_undo(annotations, change)
    assert spans(annotations) == [(10, 26), (30, 40)]
    apply_and_check_undo(annotations, annotations.create(0, 25, 31))  # bridges both
    assert spans(annotations) == [(10, 40)]
    apply_and_check_undo(annotations, annotations.create(0, 90, 200))  # clipped to the recording
    assert spans(annotations) == [(10, 40), (90, 100)]
    assert spans(annotations, 1) == [(5, 8)]


def test_move_and_resize_stay_inside_the_free_range(annotations):
    interval = E(30, 40)
    assert annotations.free_range(0, interval) == (21, 100)
    apply_and_check_undo(annotations, annotations.move(0, interval, 50))
    assert spans(annotations) == [(10, 20), (50, 60)]
    with pytest.raises(ValueError, match="free range"):
        annotations.move(0, E(50, 60), 15)
    with pytest.raises(ValueError, match="free range"):
        annotations.resize(0, E(50, 60), 20, 60)  # would touch [10, 20)
    apply_and_check_undo(annotations, annotations.resize(0, E(50, 60), 21, 61))
    assert spans(annotations) == [(10, 20), (21, 61)]
    with pytest.raises(ValueError, match="empty"):
        annotations.resize(0, E(21, 61), 30, 30)


def test_split_merge_delete(annotations):
    apply_and_check_undo(annotations, annotations.split(0, E(10, 20), 14))
    assert spans(annotations) == [(10, 14), (15, 20), (30, 40)]
    with pytest.raises(ValueError, match="strictly inside"):
        annotations.split(0, E(15, 20), 19)  # the last frame: nothing left after it
    apply_and_check_undo(annotations, annotations.merge_with_next(0, E(15, 20)))
    assert spans(annotations) == [(10, 14), (15, 40)]
    with pytest.raises(ValueError, match="last interval"):
        annotations.merge_with_next(0, E(15, 40))
    apply_and_check_undo(annotations, annotations.delete(0, E(10, 14)))
    assert spans(annotations) == [(15, 40)]
    with pytest.raises(ValueError, match="not annotated"):
        annotations.delete(0, E(10, 14))


def test_toggle_flips_one_frame(annotations):
    steps = [
        (25, [(10, 20), (25, 26), (30, 40)]),  # released frame alone: a one-frame pinch
        (25, [(10, 20), (30, 40)]),  # pinched one-frame interval: deleted
        (20, [(10, 21), (30, 40)]),  # touching the end: extends it
        (29, [(10, 21), (29, 40)]),  # touching the start: extends it
        (35, [(10, 21), (29, 35), (36, 40)]),  # inside: splits
        (29, [(10, 21), (30, 35), (36, 40)]),  # first frame: shortens
        (35, [(10, 21), (30, 40)]),  # the single gap frame: joins both
    ]
    for frame, expected in steps:
        apply_and_check_undo(annotations, annotations.toggle_at(0, frame))
        assert spans(annotations) == expected, frame
    np.testing.assert_array_equal(np.flatnonzero(annotations.frames(0)), list(range(10, 21)) + list(range(30, 40)))


def test_apply_is_all_or_nothing():
    annotations = PinchAnnotations(50, {0: [(10, 20)]})
    bad = IntervalChange("bad", added=(HandInterval(0, E(19, 25)),))
    with pytest.raises(ValueError, match="overlaps"):
        annotations.apply(bad)
    touching = IntervalChange("touch", added=(HandInterval(1, E(1, 2)), HandInterval(0, E(20, 25))))
    with pytest.raises(ValueError, match="touches"):
        annotations.apply(touching)
    assert spans(annotations) == [(10, 20)] and spans(annotations, 1) == []
    with pytest.raises(ValueError):
        PinchAnnotations(50, {0: [(10, 20), (15, 30)]})


def test_replace_all_is_one_reversible_change(annotations):
    other = PinchAnnotations(100, {1: [(50, 60)]})
    apply_and_check_undo(annotations, annotations.replace_all(other, "import"))
    assert annotations == other


# -- files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".csv", ".eaf"])
def test_every_format_round_trips(annotations, tmp_path, suffix):
    path = tmp_path / f"labels{suffix}"
    write_annotations(path, annotations, fps=30.0, recording_name="recording_00")
    loaded = read_annotations(path, 100, fps=30.0)
    assert loaded.annotations == annotations and loaded.repairs == ()


def test_documented_layouts(annotations, tmp_path):
    write_annotations(tmp_path / "a.json", annotations, fps=30.0, recording_name="recording_00")
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc == {"format": "umetrack-studio.pinch-annotations", "version": 1, "recording": "recording_00", "num_frames": 100,
                   "fps": 30.0, "left": [[10, 20], [30, 40]], "right": [[5, 8]]}  # fmt: skip
    write_annotations(tmp_path / "a.csv", annotations, fps=30.0)
    assert (tmp_path / "a.csv").read_text() == "hand,start_frame,end_frame\nleft,10,20\nleft,30,40\nright,5,8\n"
    write_annotations(tmp_path / "a.eaf", annotations, fps=30.0)
    text = (tmp_path / "a.eaf").read_text()
    # [10, 20) at 30 fps: 333 ms to 667 ms, on the "left" tier.
    assert 'TIME_VALUE="333"' in text and 'TIME_VALUE="667"' in text and 'TIER_ID="left"' in text and "<ANNOTATION_VALUE>pinch<" in text


def test_overlapping_unsorted_and_out_of_range_intervals_are_repaired_with_a_report(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text(json.dumps({"format": "umetrack-studio.pinch-annotations", "version": 1, "num_frames": 100,
                                "left": [[40, 60], [30, 50], [95, 120]], "right": [[-5, 3], [200, 210], [10, 20], [20, 25]]}))  # fmt: skip
    loaded = read_annotations_json(path, 100)
    assert spans(loaded.annotations) == [(30, 60), (95, 100)]
    assert spans(loaded.annotations, 1) == [(0, 3), (10, 25)]
    assert loaded.repairs == (
        "left[2] [95, 120) reaches outside frames 0..99: clipped to [95, 100)",
        "right[0] [-5, 3) reaches outside frames 0..99: clipped to [0, 3)",
        "right[1] [200, 210) lies outside the recording's frames 0..99: dropped",
        "left intervals were not in time order: sorted",
        "left[0] [40, 60) overlaps left[1] [30, 50): merged into [30, 60)",
        "right[3] [20, 25) touches right[2] [10, 20): merged into [10, 25)",
    )
    assert loaded.report.startswith("labels.json: repaired 6 problem(s):\n• left[2]")


@pytest.mark.parametrize(
    ("content", "field", "reason"),
    [
        ({"format": "x", "version": 1, "num_frames": 10, "left": [], "right": []}, "format", "expected"),
        ({"format": "umetrack-studio.pinch-annotations", "version": 2, "num_frames": 10, "left": [], "right": []}, "version", "unsupported"),
        ({"format": "umetrack-studio.pinch-annotations", "version": 1, "num_frames": 10, "left": []}, "right", "missing"),
        ({"format": "umetrack-studio.pinch-annotations", "version": 1, "num_frames": 10, "left": [[5, 2]], "right": []}, "left[0]", "greater than start"),
        ({"format": "umetrack-studio.pinch-annotations", "version": 1, "num_frames": 10, "left": [[1.5, 3]], "right": []}, "left[0]", "integer"),
        ({"format": "umetrack-studio.pinch-annotations", "version": 1, "num_frames": 10, "left": [[1, 2, 3]], "right": []}, "left[0]", "pair"),
    ],
)
def test_bad_json_is_rejected_naming_file_and_field(tmp_path, content, field, reason):
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(content))
    with pytest.raises(FormatError, match=reason) as info:
        read_annotations_json(path, 10)
    assert info.value.field == field and info.value.source == str(path)


def test_bad_csv_and_eaf_are_rejected(tmp_path):
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("hand,start_frame,end_frame\nleft,1,4\nmiddle,2,3\n")
    with pytest.raises(FormatError) as info:
        read_annotations_csv(csv_path, 10)
    assert info.value.field == "row 3.hand"
    csv_path.write_text("start,end\n1,2\n")
    with pytest.raises(FormatError, match="header"):
        read_annotations_csv(csv_path, 10)
    eaf_path = tmp_path / "labels.eaf"
    eaf_path.write_text("<ANNOTATION_DOCUMENT><TIER")
    with pytest.raises(FormatError, match="malformed"):
        read_annotations_eaf(eaf_path, 10, 30.0)


def test_autosave_is_atomic_and_keeps_a_rejected_file(tmp_path, monkeypatch):
    recording_path = tmp_path / "recording_00.mp4"
    path = annotations_path_for(recording_path)
    assert path == tmp_path / "recording_00.pinch_annotations.json"
    path.write_text("{broken")
    autosave = AnnotationAutosave(path, rejected=FormatError(path, "", "malformed JSON"))
    first = PinchAnnotations(10, {0: [(1, 3)]})
    autosave.save(first)
    assert autosave.rejected_path.read_text() == "{broken"  # the user's bad file survives the first edit
    assert read_annotations_json(path, 10).annotations == first
    # A crash during the write (here: the rename fails) leaves the previous edit intact.
    import umetrack.fileio as fileio

    def crash(*_args):
        raise OSError("disk vanished")

    monkeypatch.setattr(fileio.os, "replace", crash)
    with pytest.raises(OSError):
        autosave.save(PinchAnnotations(10, {0: [(5, 9)]}))
    assert "disk vanished" in autosave.last_error
    assert read_annotations_json(path, 10).annotations == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recording_00.pinch_annotations.json", "recording_00.pinch_annotations.json.rejected"]


# -- review ----------------------------------------------------------------------------------


def test_review_equals_the_metrics_functions():
    rng = np.random.default_rng(3)
    landmarks = rng.normal(0, 0.05, size=(60, 2, 21, 3))
    distances = np.r_[np.full(10, 0.05), np.full(10, 0.005), np.full(10, 0.015), np.full(15, 0.05), np.full(5, 0.005), np.full(10, 0.05)]
    landmarks[:, 0, 1] = landmarks[:, 0, 0] + np.stack([distances, 0 * distances, 0 * distances], -1)
    landmarks[40:45, 1] = np.nan  # right hand lost
    predicted = predicted_pinch_events(landmarks)
    assert predicted[0] == (E(10, 30), E(45, 50))
    assert predicted[1] == detect_pinch_events(np.nan_to_num(landmarks[:, 1]), np.isfinite(landmarks[:, 1]).all((-1, -2)))
    reference = {0: (E(12, 25), E(35, 38)), 1: (E(40, 44),)}
    review = review_pinches(predicted, reference)
    scores = {hand: pinch_precision_recall(predicted[hand], reference[hand]) for hand in (0, 1)}
    assert review.per_hand == scores
    counts = [sum(getattr(s, n) for s in scores.values()) for n in ("true_positives", "false_positives", "false_negatives")]
    assert (review.precision, review.recall) == precision_recall_from_counts(*counts)
    assert [(m.hand, m.kind, m.event) for m in review.mismatches][:2] == [(0, "missed", E(35, 38)), (1, "missed", E(40, 44))]
