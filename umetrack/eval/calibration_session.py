"""Hand-scale calibration sessions (issue 8): the step-wise calibration the app drives frame by frame
from a source, and the comparison of the generic and the calibrated skeleton on the same frames.

Qt-free: the app runs these in a worker thread and shows each ``CalibrationStep`` as it arrives.

A source is anything that yields ``SourceFrame``s: a recording now (``recording_source``); a live
camera rig plugs in by yielding its frames the same way (no ground truth: ``gt_poses`` empty,
and crops then need a detector, which ``CalibrationSource.detector`` carries).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from umetrack.camera import Camera
from umetrack.eval.runner import track_keypoints
from umetrack.hand import fk
from umetrack.hand.model import NUM_LANDMARKS, HandModel
from umetrack.hand.pose import HandPose
from umetrack.live import LiveSource
from umetrack.metrics import mpjpe, per_joint_error
from umetrack.model.network import UmeTrackNet
from umetrack.recording import Recording
from umetrack.track.calibration import (
    DEFAULT_SAMPLES,
    MIN_VIEWS_FOR_SCALE,
    CalibrationStatus,
    ScaleCalibration,
    scale_relative_to,
)
from umetrack.track.results import Cancelled, gt_bootstrap
from umetrack.track.tracker import MIN_VISIBLE_LANDMARKS, Detector, Reason, Tracker, TrackerOptions

HANDS = (0, 1)


@dataclass(frozen=True, eq=False)
class SourceFrame:
    """One multi-view frame of a calibration source.

    Attributes:
        index: frame number in the source.
        images: one (H, W) uint8 image per camera (None for a missing view).
        cameras: the posed cameras, or None when the headset is not tracked.
        gt_poses: ground-truth poses by hand ({} for a source without GT: live cameras).
    """

    index: int
    images: list[np.ndarray | None]
    cameras: list[Camera | None] | None
    gt_poses: dict[int, HandPose]


@dataclass(frozen=True, eq=False)
class CalibrationSource:
    """Where calibration frames come from.

    Attributes:
        name: shown to the user.
        frames: a fresh iterator over the frames to calibrate on.
        total_frames: how many ``frames`` yields (None: unbounded, a live stream).
        detector: bootstrap for tracked crops (the recording's GT until a learned detector exists).
        camera_angles_deg: in-plane crop roll per view.
        recording: the recording the frames come from (None for live sources): with ground truth it
            gives the true scale and allows the generic-vs-calibrated comparison.
        frame_range: the recording frames ``frames`` yields (None for live sources).
        subject: the subject's hand model where a source without a recording knows it (a simulated
            headset), for the true scale.
        has_ground_truth: frames carry GT poses (oracle crops are possible).
    """

    name: str
    frames: Callable[[], Iterator[SourceFrame]]
    total_frames: int | None
    detector: Detector | None = None
    camera_angles_deg: tuple[float, ...] | None = None
    recording: Recording | None = None
    frame_range: range | None = None
    subject: HandModel | None = None
    has_ground_truth: bool = False


def views_seeing(points: torch.Tensor, cameras: list[Camera | None]) -> int:
    """How many cameras see at least ``MIN_VISIBLE_LANDMARKS`` of the (21, 3) world ``points``: the
    tracker's view test, uncapped (the tracker itself uses at most two of them)."""
    return sum(camera is not None and int(camera.visible(points).sum()) >= MIN_VISIBLE_LANDMARKS for camera in cameras)


def recording_source(recording: Recording, frames: range) -> CalibrationSource:
    """Calibrate on ``frames`` of ``recording`` (frames from the playhead, in the app).

    Tracked crops bootstrap from GT where a hand appears (``gt_bootstrap``), as the app's tracker does.
    """
    if frames.step != 1 or not frames or frames.start < 0 or frames.stop > recording.num_frames:
        raise ValueError(f"frames {frames.start}..{frames.stop - 1} are not a forward range inside the recording's 0..{recording.num_frames - 1}")
    bootstrap, bootstrap_frame = gt_bootstrap(recording)

    def iterate() -> Iterator[SourceFrame]:
        for index in frames:
            bootstrap_frame["frame"] = index
            yield SourceFrame(index, recording.images(index), recording.cameras(index), recording.gt_poses(index))

    return CalibrationSource(recording.name, iterate, len(frames), bootstrap, recording.camera_angles_deg, recording, frames,
                             has_ground_truth=recording.gt is not None)  # fmt: skip


def true_scale(source: CalibrationSource, generic: HandModel) -> float | None:
    """The subject's scale relative to ``generic`` where the source knows it (a recording with the
    subject's hand model, e.g. every synthetic recording), else None."""
    subject = source.recording.hand_model if source.recording is not None else source.subject
    return None if subject is None else scale_relative_to(subject, generic)


LIVE_TIMEOUT_S = 2.0
"""A live source that delivers no frame for this long ends the calibration (a stalled rig)."""


def live_source(source: LiveSource, frames: int) -> CalibrationSource:
    """Calibrate on the next ``frames`` frames of an open live source; the calibration owns it and
    closes it when it ends. A slow calibration takes the newest frame each time (frames are dropped,
    never queued). Ground truth, where the source has it (the simulated headset), gives oracle crops
    and the true scale; without it crops need a detector, which does not exist yet."""
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")

    def iterate() -> Iterator[SourceFrame]:
        try:
            for _ in range(frames):
                frame = source.next_frame(LIVE_TIMEOUT_S)
                if frame is None:
                    return  # stalled: end with what was collected
                yield SourceFrame(frame.index, list(frame.images), frame.cameras(source.rig), dict(frame.gt))
        finally:
            source.close()

    rig = source.rig
    return CalibrationSource(source.name, iterate, frames, camera_angles_deg=rig.camera_angles_deg, subject=rig.hand_model,
                             has_ground_truth=source.has_ground_truth)  # fmt: skip


@dataclass(frozen=True)
class CalibrationOptions:
    """How to calibrate.

    Attributes:
        hands: the hands whose scale predictions are pooled (the released code pools both).
        required: samples that complete the calibration (the paper's 30).
        crops: "oracle" (from GT, the released eval protocol) or "tracked" (from the previous
            prediction, bootstrapped by the source's detector).
    """

    hands: tuple[int, ...] = HANDS
    required: int = DEFAULT_SAMPLES
    crops: str = "oracle"

    def __post_init__(self) -> None:
        if not self.hands or any(h not in HANDS for h in self.hands):
            raise ValueError(f"hands must be a non-empty subset of {HANDS}, got {self.hands!r}")
        if self.required < 1:
            raise ValueError(f"required must be >= 1, got {self.required}")


@dataclass(frozen=True)
class CalibrationStep:
    """What one frame did to the calibration.

    Attributes:
        frame: the source frame.
        views_now: per hand, cameras that see it now: with GT, those seeing >= 19 landmarks of its GT
            pose on the calibration's skeleton (the tracker's view test, so 2+ here is what makes a
            sample); without GT the views the tracker used (at most two).
        reasons: per hand, the tracker's outcome.
        sampled: per hand, whether its scale prediction became a sample.
        samples: every sample so far, in order (``ScaleCalibration.samples``).
        status: the calibration after this frame.
    """

    frame: int
    views_now: tuple[int, int]
    reasons: tuple[Reason, Reason]
    sampled: tuple[bool, bool]
    samples: tuple[float, ...]
    status: CalibrationStatus


@dataclass(frozen=True)
class CalibrationOutcome:
    """The end of a calibration run: complete, or the source ran out of frames first."""

    calibration: ScaleCalibration
    frames_done: int
    first_frame: int | None
    last_frame: int | None

    @property
    def status(self) -> CalibrationStatus:
        return self.calibration.status

    def shortfall_message(self) -> str:
        """Why the calibration is not complete (empty when it is)."""
        status = self.status
        if status.converged:
            return ""
        where = f"frames {self.first_frame}-{self.last_frame}" if self.frames_done else "no frames"
        return (
            f"Not converged: only {status.samples} of {status.required} samples were collected in {where} "
            f"(a sample is a tracked hand seen in at least {MIN_VIEWS_FOR_SCALE} views). "
            "Start earlier in the recording, calibrate on a recording where the hands are seen by two cameras longer, "
            "or ask for fewer samples."
        )


def calibrate(
    net: UmeTrackNet,
    generic: HandModel,
    source: CalibrationSource,
    options: CalibrationOptions = CalibrationOptions(),
    on_step: Callable[[CalibrationStep], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> CalibrationOutcome:
    """Run the unknown-skeleton tracker frame by frame over ``source`` and feed ``ScaleCalibration``
    until it is complete or the frames run out. ``should_stop()`` True raises ``Cancelled``.

    Only hands seen in at least two views are tracked (a single view cannot observe scale). Oracle
    crops need a source with ground truth (ValueError otherwise).
    """
    if options.crops == "oracle" and not source.has_ground_truth:
        raise ValueError(f"{source.name} has no ground truth to place oracle crops: calibrate with tracked crops")
    tracker = Tracker(
        net, generic, TrackerOptions(skeleton="unknown", crops=options.crops, min_views=MIN_VIEWS_FOR_SCALE),
        detector=source.detector if options.crops == "tracked" else None, camera_angles_deg=source.camera_angles_deg,
    )  # fmt: skip
    calibration = ScaleCalibration(required=options.required)
    skeleton = generic.to(torch.float64)
    done, first, last = 0, None, None
    for frame in source.frames():
        if should_stop is not None and should_stop():
            raise Cancelled(f"calibration cancelled at frame {frame.index}")
        result = tracker.step(frame.images, frame.cameras, frame.gt_poses)
        sampled = tuple(hand in options.hands and calibration.add(result.hands[hand]) for hand in HANDS)
        views_now = [len(result.hands[hand].views) for hand in HANDS]
        for hand, pose in frame.gt_poses.items():
            if pose.confidence >= 0.5 and frame.cameras is not None:
                with torch.no_grad():
                    points = fk.landmarks(skeleton, pose.joint_angles.double(), pose.T_world_from_wrist.double(), hand)
                views_now[hand] = views_seeing(points, frame.cameras)
        step = CalibrationStep(
            frame=frame.index,
            views_now=(views_now[0], views_now[1]),
            reasons=(result.hands[0].reason, result.hands[1].reason),
            sampled=sampled,
            samples=tuple(calibration.samples),
            status=calibration.status,
        )
        done, first, last = done + 1, frame.index if first is None else first, frame.index
        if on_step is not None:
            on_step(step)
        if calibration.status.converged:
            break
    return CalibrationOutcome(calibration, done, first, last)


# -- generic vs calibrated skeleton ------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SkeletonScore:
    """Errors of one skeleton over the compared slots (mm)."""

    mpjpe_mm: float
    per_joint_mm: np.ndarray
    """(21,) mean error of each landmark."""


def score_slots(truth: np.ndarray, predicted: np.ndarray, scored: np.ndarray) -> SkeletonScore:
    """MPJPE and per-landmark mean error (``umetrack.metrics``) over the ``scored`` (..., ) slots of
    (..., 21, 3) keypoints; NaN where no slot is scored."""
    if not scored.any():
        return SkeletonScore(math.nan, np.full(NUM_LANDMARKS, np.nan))
    per_joint = per_joint_error(truth, predicted, scored)[scored].mean(axis=0)
    return SkeletonScore(mpjpe(truth, predicted, scored), per_joint)


@dataclass(frozen=True, eq=False)
class SkeletonComparison:
    """Known-skeleton tracking with the generic and the calibrated hand model on the same slots.

    Attributes:
        frames: the frames both runs tracked.
        hands: the hands compared.
        scored_slots: (hand, frame) slots with GT seen in a view that both runs tracked: only those
            count, so both columns measure the same hand observations.
        generic, calibrated: their errors.
    """

    frames: range
    hands: tuple[int, ...]
    scored_slots: int
    generic: SkeletonScore
    calibrated: SkeletonScore


def compare_skeletons(
    net: UmeTrackNet,
    recording: Recording,
    generic: HandModel,
    calibrated: HandModel,
    frames: range,
    hands: tuple[int, ...] = HANDS,
    crops: str = "oracle",
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SkeletonComparison:
    """Track ``frames`` of ``recording`` twice with the known-skeleton regressor, once per hand model,
    and score both against GT (raises ValueError without GT). ``progress(done, total)`` counts the
    frames of both runs; ``should_stop()`` True raises ``Cancelled``."""
    if recording.gt is None or recording.hand_model is None:
        raise ValueError(f"{recording.name}: comparing skeletons needs ground truth and the subject's hand model")
    total = 2 * len(frames)
    runs = []
    for run, model in enumerate((generic, calibrated)):
        report = None if progress is None else (lambda done, _n, offset=run * len(frames): progress(offset + done, total))
        runs.append(track_keypoints(net, recording, model, crops, frames=frames, progress=report, should_stop=should_stop))
    (generic_points, truth, valid, generic_tracked), (calibrated_points, _truth, _valid, calibrated_tracked) = runs
    chosen = np.isin(np.arange(2), hands)[:, None]
    scored = valid & generic_tracked & calibrated_tracked & chosen
    return SkeletonComparison(
        frames=frames,
        hands=tuple(hands),
        scored_slots=int(scored.sum()),
        generic=score_slots(truth, generic_points, scored),
        calibrated=score_slots(truth, calibrated_points, scored),
    )
