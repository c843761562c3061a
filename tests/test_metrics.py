"""Hand-computed checks of umetrack.metrics (keypoints in metres in, mm out; pinch in metres)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from umetrack import metrics as m
from umetrack.hand.model import INDEX_TIP


def _offset_keypoints(shape_leading=(2, 4), offset_m=(0.003, 0.004, 0.0)):
    """GT at the origin, prediction shifted by a constant offset (3-4-5 mm by default)."""
    gt = np.zeros(shape_leading + (21, 3))
    pred = gt + np.asarray(offset_m)
    return gt, pred


def _trajectory(positions_m):
    """(T, 21, 3) keypoints where every landmark sits at the given (T, 3) positions."""
    positions_m = np.asarray(positions_m, dtype=float)
    return np.repeat(positions_m[:, None, :], 21, axis=1)


# ---------------------------------------------------------------- position errors


def test_per_joint_error_is_euclidean_distance_in_mm():
    gt, pred = _offset_keypoints()
    errors = m.per_joint_error(gt, pred)
    assert errors.shape == (2, 4, 21)
    np.testing.assert_allclose(errors, 5.0, rtol=0, atol=1e-12)


def test_mpjpe_of_constant_345_offset_is_5mm():
    gt, pred = _offset_keypoints()
    assert m.mpjpe(gt, pred) == pytest.approx(5.0, abs=1e-12)
    np.testing.assert_allclose(m.per_slot_errors(gt, pred), np.full((2, 4), 5.0), atol=1e-12)


def test_mpjpe_accepts_torch_tensors():
    gt, pred = _offset_keypoints()
    valid = torch.ones(2, 4, dtype=torch.bool)
    value = m.mpjpe(torch.from_numpy(gt).float(), torch.from_numpy(pred).float(), valid)
    assert value == pytest.approx(5.0, abs=1e-4)


def test_mpjpe_is_frame_weighted_over_valid_slots():
    gt = np.zeros((2, 4, 21, 3))
    pred = gt.copy()
    pred[0, :, :, 0] = 0.001  # left hand: 1 mm everywhere
    pred[1, :, :, 0] = 0.005  # right hand: 5 mm everywhere
    valid = np.array([[True, True, True, False], [False, True, False, False]])
    # 3 slots at 1 mm and 1 slot at 5 mm pooled: (3 + 5) / 4, not the mean of per-hand means (3).
    assert m.mpjpe(gt, pred, valid) == pytest.approx(2.0)


def test_masking_excludes_slots_even_with_nan():
    gt, pred = _offset_keypoints()
    pred[1, 2] = np.nan
    gt[0, 0] += 10.0  # a huge error that must not count
    valid = np.ones((2, 4), dtype=bool)
    valid[1, 2] = valid[0, 0] = False
    assert m.mpjpe(gt, pred, valid) == pytest.approx(5.0)
    per_slot = m.per_slot_errors(gt, pred, valid)
    assert np.isnan(per_slot[1, 2]) and np.isnan(per_slot[0, 0])
    assert np.isnan(m.per_joint_error(gt, pred, valid)[1, 2]).all()


def test_mpjpe_with_no_valid_slot_is_nan():
    gt, pred = _offset_keypoints()
    assert np.isnan(m.mpjpe(gt, pred, np.zeros((2, 4), dtype=bool)))


def test_landmark_subset_averages_only_those_landmarks():
    gt = np.zeros((3, 21, 3))
    pred = gt.copy()
    pred[:, 0, 2] = 0.021  # 21 mm on the thumb tip only
    assert m.mpjpe(gt, pred) == pytest.approx(1.0)  # 21 / 21 landmarks
    assert m.mpjpe(gt, pred, landmarks=[0]) == pytest.approx(21.0)
    assert m.mpjpe(gt, pred, landmarks=[1, 2]) == pytest.approx(0.0)


def test_pooled_mean_pools_sequences_frame_weighted():
    short = np.array([1.0, np.nan])  # one valid slot
    long = np.array([[4.0, 4.0], [4.0, np.nan]])  # three valid slots
    assert m.pooled_mean([short, long]) == pytest.approx((1 + 12) / 4)
    assert np.isnan(m.pooled_mean([]))
    with pytest.raises(ValueError, match="inf"):
        m.pooled_mean([np.array([np.inf])])


def test_success_rate_percent():
    assert m.success_rate(np.array([[True, False], [True, True]])) == pytest.approx(75.0)


# ---------------------------------------------------------------- accelerations


def test_quadratic_trajectory_has_constant_acceleration():
    t = np.arange(6, dtype=float)
    # x = c t^2 -> second difference 2c = 0.002 m = 2 mm per frame^2.
    keypoints = _trajectory(np.stack([0.001 * t**2, np.zeros_like(t), np.zeros_like(t)], -1))
    series = m.per_slot_accelerations(keypoints)
    assert series.shape == (6,)
    assert np.isnan(series[0]) and np.isnan(series[-1])
    np.testing.assert_allclose(series[1:-1], 2.0, atol=1e-9)
    assert m.mpjpa(keypoints) == pytest.approx(2.0)


def test_linear_trajectory_has_zero_acceleration():
    t = np.arange(5, dtype=float)
    keypoints = _trajectory(np.stack([0.01 * t, -0.02 * t, 0.005 * t], -1))
    assert m.mpjpa(keypoints) == pytest.approx(0.0, abs=1e-9)


def test_acceleration_needs_all_three_frames_valid():
    t = np.arange(7, dtype=float)
    positions = np.stack([0.001 * t**2, np.zeros_like(t), np.zeros_like(t)], -1)
    keypoints = _trajectory(positions)
    keypoints[3] = np.nan  # untracked frame
    valid = np.array([True, True, True, False, True, True, True])
    series = m.per_slot_accelerations(keypoints, valid)
    # Centres 2, 3, 4 touch frame 3; only centres 1 and 5 remain.
    assert np.isnan(series[[0, 2, 3, 4, 6]]).all()
    np.testing.assert_allclose(series[[1, 5]], 2.0, atol=1e-9)
    assert m.mpjpa(keypoints, valid) == pytest.approx(2.0)


def test_mpjpa_pools_hands_over_valid_triplets():
    t = np.arange(4, dtype=float)
    zeros = np.zeros_like(t)
    left = _trajectory(np.stack([0.001 * t**2, zeros, zeros], -1))  # 2 mm/frame^2
    right = _trajectory(np.stack([0.003 * t**2, zeros, zeros], -1))  # 6 mm/frame^2
    both = np.stack([left, right])  # (2, T, 21, 3)
    valid = np.array([[True, True, True, True], [True, True, True, False]])
    # Left: 2 triplets at 2; right: 1 triplet at 6 -> (2 + 2 + 6) / 3.
    assert m.mpjpa(both, valid) == pytest.approx(10.0 / 3.0)


def test_mpjpa_with_too_few_frames_is_nan():
    assert np.isnan(m.mpjpa(np.zeros((2, 21, 3))))


def test_mpjpa_only_depends_on_each_landmarks_own_motion():
    keypoints = np.zeros((3, 21, 3))
    keypoints[1, 7, 1] = 0.0105  # one landmark jumps 10.5 mm at the centre frame: |acc| = 21 mm
    assert m.mpjpa(keypoints) == pytest.approx(1.0)  # 21 / 21 landmarks


# ---------------------------------------------------------------- PCK / AUC


def test_pck_counts_errors_at_or_below_threshold():
    thresholds, pck = m.pck_curve(np.array([1.0, 2.0, 3.0, 4.0]), thresholds_mm=[0.0, 2.0, 4.0])
    np.testing.assert_array_equal(thresholds, [0.0, 2.0, 4.0])
    np.testing.assert_allclose(pck, [0.0, 50.0, 100.0])


def test_pck_default_thresholds_and_mask():
    errors = np.array([[1.0, 60.0], [np.nan, 30.0]])
    valid = np.array([[True, False], [False, True]])
    thresholds, pck = m.pck_curve(errors, valid=valid)
    assert thresholds.shape == (101,) and thresholds[-1] == 50.0
    assert pck[0] == 0.0
    assert pck[2] == 50.0  # tau = 1 mm: the 1 mm slot
    assert pck[60] == 100.0  # tau = 30 mm: both valid slots
    with pytest.raises(ValueError, match="NaN"):
        m.pck_curve(errors)


def test_pck_without_samples_is_zero():
    _, pck = m.pck_curve(np.array([1.0, 2.0]), valid=np.array([False, False]))
    assert (pck == 0).all()


def test_auc_of_step_function():
    # Every error is 10 mm: PCK jumps from 0 (tau <= 9.5) to 100 (tau >= 10).
    # Area = 0.5 * 0.5 * 100 (ramp between 9.5 and 10) + 40 * 100 = 4025; / 50 -> 80.5.
    thresholds, pck = m.pck_curve(np.full(7, 10.0))
    assert m.auc(thresholds, pck) == pytest.approx(80.5)


def test_auc_small_cases():
    assert m.auc([0.0, 1.0, 2.0], [0.0, 50.0, 100.0]) == pytest.approx(50.0)
    assert m.auc(*m.pck_curve(np.zeros(3))) == pytest.approx(100.0)
    assert m.auc(*m.pck_curve(np.full(3, 99.0))) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="pck_percent"):
        m.auc([0.0, 1.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="two thresholds"):
        m.auc([1.0], [50.0])


def test_pck_auc_umetrack_uses_per_slot_mean():
    gt, pred = _offset_keypoints(shape_leading=(4,))  # 5 mm everywhere
    # Per-slot mean 5 mm: PCK 0 up to 4.5 mm, 100 from 5 mm -> (0.5 * 0.5 * 100 + 45 * 100) / 50.
    assert m.pck_auc(gt, pred) == pytest.approx((25.0 + 4500.0) / 50.0)


def test_pck_auc_challenge_variant_is_per_landmark_without_wrist_and_palm():
    gt = np.zeros((3, 21, 3))
    pred = gt.copy()
    pred[:, [5, 20], 0] = 0.2  # 200 mm on wrist and palm centre: ignored by the challenge
    pred[:, 0, 0] = 0.1  # 100 mm on the thumb tip: one of the 19 scored landmarks
    # Per landmark: 18 of 19 exact at every threshold -> AUC = 100 * 18/19.
    assert m.pck_auc(gt, pred, per_landmark=True) == pytest.approx(100.0 * 18 / 19)
    assert m.pck_auc(gt, pred, per_landmark=True, landmarks=m.FINGERTIP_LANDMARKS) == pytest.approx(80.0)
    # UmeTrack per-slot mean = (2 * 200 + 100) / 21 = 23.8 mm: PCK is 0 up to tau = 23.5 and 100
    # from 24.0 -> area (0.5 * 0.5 * 100 + 26 * 100) / 50 = 52.5.
    assert m.pck_auc(gt, pred) == pytest.approx(52.5)
    assert len(m.CHALLENGE_EVAL_LANDMARKS) == 19


def test_pck_curve_broadcasts_slot_mask_over_landmarks():
    errors = np.array([[1.0, 1.0], [np.nan, 100.0]])  # (slots, landmarks)
    _, pck = m.pck_curve(errors, thresholds_mm=[2.0], valid=np.array([True, False]))
    np.testing.assert_allclose(pck, [100.0])


# ---------------------------------------------------------------- input validation


def test_wrong_keypoint_shape_names_argument_and_shape():
    with pytest.raises(ValueError, match=r"gt: expected keypoints of shape \(\.\.\., 21, 3\)"):
        m.mpjpe(np.zeros((4, 20, 3)), np.zeros((4, 20, 3)))
    with pytest.raises(ValueError, match="pred: expected the same shape"):
        m.mpjpe(np.zeros((4, 21, 3)), np.zeros((5, 21, 3)))
    with pytest.raises(ValueError, match=r"valid: expected shape \(2, 4\)"):
        m.mpjpe(*_offset_keypoints(), valid=np.ones(4, dtype=bool))
    with pytest.raises(ValueError, match=r"keypoints: expected keypoints of shape \(\.\.\., T, 21, 3\)"):
        m.mpjpa(np.zeros((21, 3)))
    with pytest.raises(ValueError, match="boolean"):
        m.mpjpe(*_offset_keypoints(), valid=np.full((2, 4), 0.5))


def test_nan_in_valid_slot_is_rejected():
    gt, pred = _offset_keypoints()
    pred[0, 1, 3, 2] = np.nan
    expected = r"pred: 1 valid slot\(s\) contain NaN or inf \(first at slot index \(0, 1\)\)"
    with pytest.raises(ValueError, match=expected):
        m.mpjpe(gt, pred)
    with pytest.raises(ValueError, match="keypoints: .*NaN"):
        m.mpjpa(pred)


# ---------------------------------------------------------------- pinch


def test_thumb_index_distance_in_metres():
    keypoints = np.zeros((2, 21, 3))
    keypoints[:, INDEX_TIP] = (0.03, 0.04, 0.0)  # thumb tip stays at the origin
    np.testing.assert_allclose(m.thumb_index_distance(keypoints), [0.05, 0.05])


def test_hysteresis_enters_below_eps1_and_leaves_above_eps2():
    distances = [0.03, 0.015, 0.009, 0.012, 0.019, 0.02, 0.021, 0.015, 0.01, 0.0099, 0.03]
    expected = [0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0]
    # 0.015: in the band while released -> stays released; 0.02 exactly: stays pinched (strict >);
    # 0.01 exactly: stays released (strict <).
    frames = m.detect_pinch_frames(distances)
    np.testing.assert_array_equal(frames, np.array(expected, dtype=bool))
    assert m.frames_to_events(frames) == (m.PinchEvent(2, 6), m.PinchEvent(9, 10))


def test_hysteresis_invalid_frame_breaks_pinch_and_resets_state():
    distances = np.array([0.005, 0.005, np.nan, 0.015, 0.005])
    valid = np.array([True, True, False, True, True])
    frames = m.detect_pinch_frames(distances, valid)
    np.testing.assert_array_equal(frames, [True, True, False, False, True])
    with pytest.raises(ValueError, match="distances_m"):
        m.detect_pinch_frames(distances)


def test_hysteresis_is_batched_over_leading_axes_and_single_threshold_option():
    distances = np.array([[0.005, 0.015, 0.025], [0.015, 0.015, 0.005]])
    np.testing.assert_array_equal(m.detect_pinch_frames(distances), [[1, 1, 0], [0, 0, 1]])
    single = m.detect_pinch_frames(distances, enter_below_m=0.01, exit_above_m=0.01)
    np.testing.assert_array_equal(single, [[1, 0, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="enter"):
        m.detect_pinch_frames(distances, enter_below_m=0.02, exit_above_m=0.01)


def test_detect_pinch_events_from_keypoints():
    gaps = [0.05, 0.008, 0.015, 0.025, 0.05]
    keypoints = np.zeros((5, 21, 3))
    keypoints[:, 1, 0] = gaps
    assert m.detect_pinch_events(keypoints) == (m.PinchEvent(1, 3),)


def test_frames_events_round_trip():
    frames = np.array([1, 1, 0, 1, 0, 0, 1], dtype=bool)
    events = m.frames_to_events(frames)
    assert events == (m.PinchEvent(0, 2), m.PinchEvent(3, 4), m.PinchEvent(6, 7))
    np.testing.assert_array_equal(m.events_to_frames(events, 7), frames)
    assert m.frames_to_events(np.zeros(4, dtype=bool)) == ()
    with pytest.raises(ValueError, match="num_frames"):
        m.events_to_frames([(5, 9)], 7)


def test_pinch_event_validation_and_iou():
    with pytest.raises(ValueError, match="start < end"):
        m.PinchEvent(5, 5)
    a, b = m.PinchEvent(0, 4), m.PinchEvent(2, 8)
    assert a.overlap(b) == 2 and a.iou(b) == pytest.approx(2 / 8)


def test_event_precision_recall_hand_made():
    score = m.pinch_precision_recall([(0, 5), (10, 12), (20, 25)], [(3, 8), (30, 35)])
    assert (score.true_positives, score.false_positives, score.false_negatives) == (1, 2, 1)
    assert score.precision == pytest.approx(1 / 3) and score.recall == pytest.approx(1 / 2)
    assert score.matched_pairs == ((m.PinchEvent(0, 5), m.PinchEvent(3, 8)),)
    assert score.false_positive_events == (m.PinchEvent(10, 12), m.PinchEvent(20, 25))
    assert score.false_negative_events == (m.PinchEvent(30, 35),)
    assert score.unit == "event"


def test_event_matching_is_one_to_one_by_largest_overlap():
    # One long prediction covers two true pinches: it matches the one it overlaps most.
    score = m.pinch_precision_recall([(0, 20)], [(2, 4), (10, 18)])
    assert score.matched_pairs == ((m.PinchEvent(0, 20), m.PinchEvent(10, 18)),)
    assert score.false_negative_events == (m.PinchEvent(2, 4),)
    assert (score.precision, score.recall) == (1.0, 0.5)


def test_event_matching_min_iou():
    # IoU of [0, 10) and [9, 12) is 1/12.
    assert m.pinch_precision_recall([(0, 10)], [(9, 12)]).true_positives == 1
    strict = m.pinch_precision_recall([(0, 10)], [(9, 12)], min_iou=0.5)
    assert (strict.true_positives, strict.false_positives, strict.false_negatives) == (0, 1, 1)
    # Touching intervals share no frame: never a match.
    assert m.pinch_precision_recall([(0, 5)], [(5, 8)]).true_positives == 0


def test_precision_recall_edge_cases_without_events():
    nothing = m.pinch_precision_recall([], [])
    assert (nothing.precision, nothing.recall) == (1.0, 1.0)
    missed = m.pinch_precision_recall([], [(1, 3), (5, 6)])
    assert (missed.precision, missed.recall, missed.false_negatives) == (1.0, 0.0, 2)
    false_alarm = m.pinch_precision_recall([(1, 3)], [])
    assert (false_alarm.precision, false_alarm.recall, false_alarm.false_positives) == (0.0, 1.0, 1)
    with pytest.raises(ValueError, match="predicted_events"):
        m.pinch_precision_recall([(3, 1)], [])


def test_frame_level_precision_recall():
    predicted = np.array([0, 1, 1, 1, 0, 0], dtype=bool)
    truth = np.array([0, 0, 1, 1, 1, 0], dtype=bool)
    score = m.pinch_frame_precision_recall(predicted, truth)
    assert (score.true_positives, score.false_positives, score.false_negatives) == (2, 1, 1)
    assert (score.precision, score.recall) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert score.matched_pairs == ((m.PinchEvent(2, 4), m.PinchEvent(2, 4)),)
    assert score.false_positive_events == (m.PinchEvent(1, 2),)
    assert score.false_negative_events == (m.PinchEvent(4, 5),)
    # Excluding frame 4 (lost tracking) removes the miss.
    valid = np.array([1, 1, 1, 1, 0, 1], dtype=bool)
    masked = m.pinch_frame_precision_recall(predicted, truth, valid)
    assert (masked.false_negatives, masked.recall) == (0, 1.0)
    empty = m.pinch_frame_precision_recall(np.zeros(3, bool), np.zeros(3, bool))
    assert (empty.precision, empty.recall) == (1.0, 1.0)
    with pytest.raises(ValueError, match="true_frames"):
        m.pinch_frame_precision_recall(predicted, truth[:-1])


def test_precision_recall_from_counts_pools_sequences():
    scores = [m.pinch_precision_recall([(0, 2)], [(0, 2)]), m.pinch_precision_recall([(5, 6)], [])]
    count_fields = ("true_positives", "false_positives", "false_negatives")
    totals = [sum(getattr(score, field) for score in scores) for field in count_fields]
    assert m.precision_recall_from_counts(*totals) == (0.5, 1.0)


def test_empty_sequences_are_handled():
    assert m.detect_pinch_frames(np.zeros((2, 0))).shape == (2, 0)
    assert m.frames_to_events(np.zeros(0, dtype=bool)) == ()
    assert np.isnan(m.mpjpe(np.zeros((0, 21, 3)), np.zeros((0, 21, 3))))
