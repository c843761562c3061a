"""Evaluate the tracker on recordings with ground truth, as the released eval scripts do (metrics.md §1).

Per recording: run the tracker over every frame (oracle crops from GT, or tracked crops bootstrapped
at a hand's appearance by the learned detector, or by GT with ``bootstrap="gt"``), skin predicted and GT poses,
and compute MPJPE, per-joint error, PCK/AUC, MPJPA (also on GT, as a reference), pinch precision and
recall (events from the predicted tip distance vs the recording's labels), track losses, and for the
unknown skeleton the calibrated scale's error. A (hand, frame) slot counts when the hand has GT and
at least one camera sees >= 19 of its GT landmarks; slots the tracker did not track are excluded from
MPJPE and counted as track losses (the released protocol never loses a hand: it crops from GT).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import numpy as np
import torch

from umetrack.eval.one_euro import one_euro, tune_to_mpjpa
from umetrack.hand import fk
from umetrack.hand.model import HandModel
from umetrack.metrics import (
    PCK_THRESHOLDS_MM,
    auc,
    detect_pinch_events,
    mpjpa,
    pck_curve,
    per_slot_errors,
    pinch_precision_recall,
    precision_recall_from_counts,
)
from umetrack.model.network import UmeTrackNet
from umetrack.recording import Recording
from umetrack.track.calibration import ScaleCalibration, scale_relative_to
from umetrack.track.results import Cancelled, recording_bootstrap
from umetrack.track.tracker import Detector, Reason, Tracker, TrackerOptions, select_views


ONE_EURO_BETA = 0.5


@dataclass
class RecordingEvaluation:
    """Metrics of one recording (lengths in mm, MPJPA in mm/frame^2, rates in percent)."""

    name: str
    frames: int
    valid_slots: int
    tracked_slots: int
    track_losses: int
    mpjpe_mm: float
    per_joint_mm: list[float]
    pck_auc: float
    mpjpa: float
    gt_mpjpa: float
    pinch_true_positives: int
    pinch_false_positives: int
    pinch_false_negatives: int
    track_restarts: int = 0
    """Tracks the drift check restarted from the detector (tracked crops)."""
    ended_tracks: int = 0
    """Unsure tracks the drift check ended because the detector did not find their hand (tracked crops)."""
    scale_error: float | None = None
    calibrated_scale: float | None = None
    true_scale: float | None = None
    no_temporal_mpjpe_mm: float | None = None
    no_temporal_mpjpa: float | None = None
    one_euro_mpjpe_mm: float | None = None
    one_euro_mpjpa: float | None = None
    one_euro_min_cutoff_hz: float | None = None
    predicted_keypoints: np.ndarray | None = field(default=None, repr=False)
    gt_keypoints: np.ndarray | None = field(default=None, repr=False)
    tracked: np.ndarray | None = field(default=None, repr=False)

    def summary(self) -> dict:
        out = asdict(self)
        for key in ("predicted_keypoints", "gt_keypoints", "tracked"):
            out.pop(key)
        return out


def _true_scale(recording: Recording, generic: HandModel) -> float:
    """Scale of the recording's hand relative to the generic model (wrist to middle fingertip)."""
    return scale_relative_to(recording.hand_model, generic)


def calibrate_scale(net: UmeTrackNet, recording: Recording, generic: HandModel, samples: int = 30, precision: str = "fp32") -> ScaleCalibration:
    """Phase A of the unknown-skeleton protocol: predicted scales of 2-view hands, oracle crops."""
    options = TrackerOptions(skeleton="unknown", crops="oracle", min_views=2, precision=precision)
    tracker = Tracker(net, generic, options, camera_angles_deg=recording.camera_angles_deg)
    calibration = ScaleCalibration(required=samples)
    for frame in range(recording.num_frames):
        if calibration.status.converged:
            break
        result = tracker.step(recording.images(frame), recording.cameras(frame), recording.gt_poses(frame))
        for hand in result.hands.values():
            calibration.add(hand)
    return calibration


def track_keypoints(
    net: UmeTrackNet,
    recording: Recording,
    model: HandModel,
    crops: str,
    temporal: bool = True,
    frames: range | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    precision: str = "fp32",
    bootstrap: str | Detector = "auto",
    tracking: TrackerOptions | None = None,
    stats: dict | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the known-skeleton tracker over a recording (or over ``frames`` of it; other frames stay
    invalid). ``progress(done, total)`` follows each frame; ``should_stop()`` True raises ``Cancelled``.
    Tracked crops start hands with ``bootstrap`` (``recording_bootstrap``: "auto", "detector", "gt");
    ``tracking`` gives the tracked-crop settings (the drift check's ``redetect_*``,
    ``min_start_confidence``, ``refine_new_tracks``; default ``TrackerOptions()``); its skeleton,
    crops, temporal and precision are this call's. ``stats``, when given, receives "restarts" (tracks the drift check restarted) and "ended" (unsure tracks it ended).

    Returns:
        predicted (2, N, 21, 3), truth (2, N, 21, 3) world metres (NaN where absent), valid (2, N)
        (GT present and seen by a camera in >= 19 landmarks), tracked (2, N).
    """
    detector, detector_state = (None, None) if crops == "oracle" else recording_bootstrap(recording, model, bootstrap)
    options = replace(tracking or TrackerOptions(), skeleton="known", crops=crops, temporal=temporal, precision=precision)
    tracker = Tracker(net, model, options, detector=detector, camera_angles_deg=recording.camera_angles_deg)
    gt_model = recording.hand_model.to(torch.float64)
    n = recording.num_frames
    predicted = np.full((2, n, 21, 3), np.nan)
    truth = np.full((2, n, 21, 3), np.nan)
    valid = np.zeros((2, n), bool)
    tracked = np.zeros((2, n), bool)
    frames = range(n) if frames is None else frames
    for done, frame in enumerate(frames):
        if should_stop is not None and should_stop():
            raise Cancelled(f"tracking cancelled at frame {frame}")
        if detector_state is not None:
            detector_state["frame"] = frame
        cameras = recording.cameras(frame)
        gt = recording.gt_poses(frame)
        result = tracker.step(recording.images(frame), cameras, gt)
        for hand, pose in gt.items():
            if pose.confidence < 0.5 or cameras is None:
                continue
            with torch.no_grad():
                points = fk.landmarks(gt_model, pose.joint_angles, pose.T_world_from_wrist, hand)
            if not select_views(points, cameras, [True] * len(cameras)):
                continue
            valid[hand, frame] = True
            truth[hand, frame] = points.numpy()
            hand_result = result.hands.get(hand)
            if hand_result is not None and hand_result.reason is Reason.TRACKED:
                tracked[hand, frame] = True
                predicted[hand, frame] = hand_result.landmarks
        if progress is not None:
            progress(done + 1, len(frames))
    if stats is not None:
        stats["restarts"] = tracker.redetections
        stats["ended"] = tracker.ended_tracks
    return predicted, truth, valid, tracked


def _mpjpe(truth: np.ndarray, predicted: np.ndarray, scored: np.ndarray) -> float:
    errors = per_slot_errors(np.nan_to_num(truth), np.nan_to_num(predicted), scored)
    return float(np.nanmean(errors[scored])) if scored.any() else math.nan


def evaluate_recording(
    net: UmeTrackNet,
    recording: Recording,
    generic: HandModel,
    skeleton: str = "known",
    crops: str = "oracle",
    baselines: bool = False,
    keep_keypoints: bool = False,
    precision: str = "fp32",
    bootstrap: str | Detector = "auto",
    tracking: TrackerOptions | None = None,
    frames: range | None = None,
) -> RecordingEvaluation:
    """Metrics of one recording (or of ``frames`` of it: the others count as not valid). ``baselines`` also runs the tracker without temporal memory and a
    one-euro filter on those per-frame predictions tuned to the temporal model's MPJPA (paper Table 2)."""
    if recording.gt is None or recording.hand_model is None:
        raise ValueError(f"{recording.name}: evaluation needs ground truth and the subject's hand model")
    calibration = None
    if skeleton == "unknown":
        calibration = calibrate_scale(net, recording, generic, precision=precision)
        model = calibration.calibrated_model(generic) if calibration.samples else generic
    else:
        model = recording.hand_model
    stats: dict = {}
    predicted, truth, valid, tracked = track_keypoints(net, recording, model, crops, precision=precision, bootstrap=bootstrap,
                                                       tracking=tracking, stats=stats, frames=frames)  # fmt: skip
    scored = valid & tracked
    errors = per_slot_errors(np.nan_to_num(truth), np.nan_to_num(predicted), scored)
    joint = np.linalg.norm(np.nan_to_num(truth) - np.nan_to_num(predicted), axis=-1) * 1000.0
    per_joint = [float(v) for v in (joint[scored].mean(0) if scored.any() else np.full(21, np.nan))]
    thresholds, pck = pck_curve(errors[scored], PCK_THRESHOLDS_MM)
    tp = fp = fn = 0
    for hand in (0, 1):
        if recording.pinch is None:
            break
        events = detect_pinch_events(np.nan_to_num(predicted[hand]), scored[hand])
        truth_events = [e for e in recording.pinch.events(hand) if scored[hand, e.start : e.end].any()]
        score = pinch_precision_recall(events, truth_events)
        tp, fp, fn = tp + score.true_positives, fp + score.false_positives, fn + score.false_negatives
    true_scale = _true_scale(recording, generic)
    calibrated = calibration.status.mean if calibration is not None else None
    jitter = mpjpa(np.nan_to_num(predicted), scored)
    result = RecordingEvaluation(
        name=recording.name,
        frames=recording.num_frames,
        valid_slots=int(valid.sum()),
        tracked_slots=int(scored.sum()),
        track_losses=int((valid & ~tracked).sum()),
        track_restarts=int(stats.get("restarts", 0)),
        ended_tracks=int(stats.get("ended", 0)),
        mpjpe_mm=_mpjpe(truth, predicted, scored),
        per_joint_mm=per_joint,
        pck_auc=auc(thresholds, pck),
        mpjpa=jitter,
        gt_mpjpa=mpjpa(np.nan_to_num(truth), valid),
        pinch_true_positives=tp,
        pinch_false_positives=fp,
        pinch_false_negatives=fn,
        scale_error=None if calibrated is None else abs(calibrated / true_scale - 1.0),
        calibrated_scale=calibrated,
        true_scale=true_scale,
        predicted_keypoints=predicted if keep_keypoints else None,
        gt_keypoints=truth if keep_keypoints else None,
        tracked=tracked if keep_keypoints else None,
    )
    if baselines:
        per_frame, _truth, _valid, per_frame_tracked = track_keypoints(net, recording, model, crops, temporal=False, precision=precision,
                                                                       bootstrap=bootstrap, tracking=tracking, frames=frames)  # fmt: skip
        kept = valid & per_frame_tracked
        result.no_temporal_mpjpe_mm = _mpjpe(truth, per_frame, kept)
        result.no_temporal_mpjpa = mpjpa(np.nan_to_num(per_frame), kept)
        if kept.any() and math.isfinite(jitter):
            cutoff = tune_to_mpjpa(per_frame, kept, jitter)
            filtered = np.stack([one_euro(per_frame[h], kept[h], cutoff, ONE_EURO_BETA) for h in (0, 1)])
            result.one_euro_min_cutoff_hz = cutoff
            result.one_euro_mpjpe_mm = _mpjpe(truth, filtered, kept)
            result.one_euro_mpjpa = mpjpa(np.nan_to_num(filtered), kept)
    return result


def overall(evaluations: list[RecordingEvaluation]) -> dict:
    """Frame-weighted pooling over recordings (metrics.md §1)."""
    slots = sum(e.tracked_slots for e in evaluations)

    def weighted(key: str) -> float:
        values = [(getattr(e, key), e.tracked_slots) for e in evaluations
                  if e.tracked_slots and getattr(e, key) is not None and not math.isnan(getattr(e, key))]  # fmt: skip
        total = sum(w for _, w in values)
        return sum(v * w for v, w in values) / total if total else math.nan

    tp = sum(e.pinch_true_positives for e in evaluations)
    fp = sum(e.pinch_false_positives for e in evaluations)
    fn = sum(e.pinch_false_negatives for e in evaluations)
    pinch_precision, pinch_recall = precision_recall_from_counts(tp, fp, fn)
    calibrated = [e.scale_error for e in evaluations if e.scale_error is not None]
    baselines = {}
    if any(e.no_temporal_mpjpe_mm is not None for e in evaluations):
        baselines = {key: weighted(key) for key in ("no_temporal_mpjpe_mm", "no_temporal_mpjpa", "one_euro_mpjpe_mm", "one_euro_mpjpa")}
    return {
        "recordings": len(evaluations),
        "tracked_slots": slots,
        "track_losses": sum(e.track_losses for e in evaluations),
        "track_restarts": sum(e.track_restarts for e in evaluations),
        "ended_tracks": sum(e.ended_tracks for e in evaluations),
        "mpjpe_mm": weighted("mpjpe_mm"),
        "pck_auc": weighted("pck_auc"),
        "mpjpa": weighted("mpjpa"),
        "gt_mpjpa": weighted("gt_mpjpa"),
        "pinch_precision": pinch_precision,
        "pinch_recall": pinch_recall,
        # The calibration criterion: share of calibrated hands within 3 % of the true scale.
        "calibrated_hands": len(calibrated),
        "scale_within_3pct": sum(e <= 0.03 for e in calibrated) / len(calibrated) if calibrated else math.nan,
        "median_scale_error": float(np.median(calibrated)) if calibrated else math.nan,
        **baselines,
    }
