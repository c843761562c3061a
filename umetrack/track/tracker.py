"""The streaming hand tracker: multi-view images + cameras in, per-hand pose (or a reason) out.

Per frame and hand (tracker.md):
1. pick the pose that places the crops: the ground truth (``crops="oracle"``, the released eval
   protocol), else the previous frame's prediction (``crops="tracked"``, paper §3.1), else a
   bootstrap from the detector;
2. skin its 21 landmarks, keep cameras that see >= 19 of them, re-sort by camera index and take
   the first two (the lowest index is the reference view);
3. build the crop cameras from the 63 crop points and warp the images (OpenCV remap);
4. run the network for all hands in one batch, with each hand's temporal memory (reset when the
   hand was not tracked on the previous frame).

Nothing raises to the caller for bad input: a missing or black view, a camera with NaN
calibration, a hand out of every view, a failed crop all become a ``Reason`` on that hand.
"""

from __future__ import annotations

import copy
import enum
import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from umetrack.camera import Camera
from umetrack.crop import CROP_SIZE, CropCamera, crop_points, make_crop_cameras, warp_image_batch
from umetrack.errors import UmeTrackError
from umetrack.hand import fk
from umetrack.hand.model import HandModel
from umetrack.hand.pose import HandPose
from umetrack.model.fold import fold_batchnorm
from umetrack.model.network import TemporalState, UmeTrackNet

MIN_VISIBLE_LANDMARKS = 19
MAX_VIEWS = 2
BLACK_IMAGE_MAX_LEVEL = 2
"""A view whose brightest pixel is at most this is treated as missing (a dead or covered camera)."""


class Reason(enum.Enum):
    """Why a hand has (or has no) prediction in a frame."""

    TRACKED = "tracked"
    NOT_DETECTED = "not detected"
    TOO_FEW_VIEWS = "too few views"
    LOW_CONFIDENCE = "low confidence"
    INVALID_CAMERA = "invalid camera"
    LOST_TRACK = "lost track"
    CROP_FAILED = "crop failed"


@dataclass(frozen=True, eq=False)
class HandResult:
    """One hand in one frame.

    Attributes:
        reason: ``Reason.TRACKED`` when ``pose`` is set, else why not.
        pose: predicted pose (metres, world, the hand's own convention) or None.
        landmarks: (21, 3) predicted landmarks, world metres, or None.
        views: camera indices the hand was tracked from (reference view first).
        crops: the crop cameras used, one per view.
        crop_images: (views, 96, 96) uint8 crops fed to the network (for inspection).
        confidence: 0..1 from the predicted landmark uncertainty (1 = confident).
        hand_scale: predicted scale (unknown-skeleton mode) or None.
    """

    hand_index: int
    reason: Reason
    pose: HandPose | None = None
    landmarks: np.ndarray | None = None
    views: tuple[int, ...] = ()
    crops: tuple[CropCamera, ...] = ()
    crop_images: np.ndarray | None = None
    confidence: float = 0.0
    hand_scale: float | None = None


@dataclass(frozen=True, eq=False)
class FrameResult:
    """Per-hand results and where the time went (ms): ``crop_ms`` (placing crops: skinning the
    crop pose, view selection, crop cameras, and ``warp_ms`` of it for resampling the images),
    ``network_ms``, ``fk_ms`` (skinning the predictions), ``total_ms``."""

    hands: dict[int, HandResult]
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackerOptions:
    skeleton: str = "known"
    """"known": Regressor-K with the tracker's hand model; "unknown": Regressor-U (predicts scale)."""
    crops: str = "tracked"
    """"tracked": crop from the previous prediction (bootstrap from the detector); "oracle": from GT."""
    min_views: int = 1
    temporal: bool = True
    """False: every frame starts with an empty memory (the "without temporal" ablation / per-frame baseline)."""
    min_confidence: float = 0.0
    uncertainty_scale_m: float = 0.02
    """Mean predicted landmark sigma at which confidence falls to exp(-1)."""
    precision: str = "fp32"
    """"fp32", or "bf16": the image encoder and regressors under bf16 autocast with channels_last
    (about 2x faster on CPUs with AVX512-BF16/AMX; the FTL and root decoding stay fp32)."""
    fold_batchnorm: bool = True
    """Run an inference copy of the network (``fold_batchnorm``) with every convolution's BatchNorm
    folded into it and channels_last weights: the same fp32 maths up to float rounding (landmarks
    within 4e-5 m on the sample), ~30 % less network time on a 2-core CPU, ~0.5 s once when the
    tracker is made. False runs the network as given, bit for bit (the reference fp32 path).
    The network passed in is not modified."""
    device: str = "cpu"
    """Where the network runs ("cpu", "cuda", "cuda:1"): crops, FK and everything else stay on the
    CPU, only the crop images and cameras travel. The network passed in is copied, not moved."""
    redetect_every: int = 40
    """Tracked crops: every this many frames, a detector that locates hands (``LocatingDetector``,
    e.g. ``HandDetector``) checks each tracked hand; 0 never checks (nor on low confidence). Crops
    placed from the previous prediction compound its error, and a track can drift far off the hand
    without ever leaving its own crops; the check costs one detector pass (~30 ms on 2 cores).
    Every restart also costs accuracy (it starts from the detector's ~45 mm-off pose), so the
    periodic check is sparse and the confidence trigger below does most of the work. Chosen on the
    validation recordings (``VALIDATION_RECORDING_SEEDS`` 300001-2, ``umetrack.pt``), tracked MPJPE
    with every / distance: 10 / 0.10 m 16.9 mm, 20 / 0.10 16.4, 20 / 0.15 16.1, 40 / 0.10 15.7,
    40 / 0.15 15.6, 80 / 0.10 15.3 (oracle crops 14.2); 40 / 0.15 is within noise of the best and
    checks twice as often."""
    redetect_distance_m: float = 0.15
    """A tracked hand whose landmark centre is farther than this from the centre the detector
    triangulates from >= 2 views restarts from the detector's pose (memory reset). Two-view detector
    centres are typically ~45 mm off; single-view ones (~240 mm) are never used for the check."""
    redetect_below_confidence: float = 0.2
    """A tracked hand predicted with less confidence than this is checked on the next frame instead
    of waiting for ``redetect_every``: a crop that has slid off the hand shows in the predicted
    uncertainty (on the bundled sample 95 % of well-tracked hands score >= 0.25). The prediction is
    still reported; only where the next crop comes from can change. If the check's detector does
    not find that hand in >= 2 views, the track is dropped and the hand starts again from the
    detector: a track that has left its hand otherwise goes on predicting on the background
    (heldout_100004: 450 mm off at confidence 0.12 for 60 frames). Tracked held-out MPJPE 37.5 -> 28.8 mm
    (heldout_100004 78.1 -> 57.4), the validation recordings unchanged at 15.5 mm."""
    min_start_confidence: float = 0.2
    """Tracked crops: a track starts (from the detector, or restarted by the drift check) only if its
    first prediction is at least this confident; otherwise that frame reports ``LOW_CONFIDENCE`` and
    the next frame asks the detector again. A detection on something that is not the hand (the other
    hand's forearm, clutter) gives an unsure first prediction, and a track started there follows it:
    on validation recording 300003 the detector puts the left hand on the right forearm, in two views,
    for the last 30 frames. The default is the drift check's "unsure" level
    (``redetect_below_confidence``), not a tuned value. Validation (``umetrack.pt``), tracked MPJPE
    300001-4 26.3 -> 21.0 mm (300003 62.9 -> 36.8), MPJPA 7.37 -> 4.60, 44 more of 3,499 hand-frames
    without a prediction; 300005-8 32.5 -> 31.8 mm, MPJPA 6.47 -> 5.53; held-out 20.7 -> 22.4 mm
    (heldout_100004 worse), MPJPA 7.88 -> 4.98."""
    refine_new_tracks: int = 0
    """Tracked crops: on the frame a track starts (from the detector, or restarted by the drift
    check), crop again from the network's own prediction this many times and keep the refined
    result. The detector's pose is typically ~45 mm off, so the first crops are off-centre and
    mis-scaled; each pass costs one more network run, on that frame only. Off by default: it cuts a
    start's error (sample, 3 cm-off starts: 28.7 -> 24.4 mm) but not whole recordings' (validation
    300001-4 21.0 -> 19.5 mm, 300005-8 31.8 -> 34.2 mm)."""


Detector = Callable[[list[np.ndarray | None], list[Camera | None]], dict[int, HandPose]]
"""Bootstrap: images and cameras -> rough poses of the hands it finds (used when a hand has no track)."""


@runtime_checkable
class LocatingDetector(Protocol):
    """A detector that also says where it found each hand: ``detect_hands(images, cameras)`` ->
    {hand: (pose, location)} with ``location.centre`` (3,) world metres and ``location.views``.
    Only such a detector checks running tracks for drift (a GT bootstrap must not correct them)."""

    def __call__(self, images: list[np.ndarray | None], cameras: list[Camera | None]) -> dict[int, HandPose]: ...

    def detect_hands(self, images: list[np.ndarray | None], cameras: list[Camera | None]) -> dict: ...


def _camera_is_valid(camera: Camera | None) -> bool:
    if camera is None:
        return False
    model = camera.model
    values = (model.fx, model.fy, model.cx, model.cy, *model.distortion)
    return all(math.isfinite(v) for v in values) and bool(torch.isfinite(camera.T_world_from_camera).all())


def select_views(landmarks: torch.Tensor, cameras: list[Camera | None], usable: list[bool]) -> list[int]:
    """Cameras that see >= 19 of the 21 landmarks, by index, at most two (tracker.md §2, perspective_crop.md §5).

    Args:
        landmarks: (21, 3) world, metres.
    """
    return select_views_batch(landmarks[None], cameras, usable)[0]


def select_views_batch(landmarks: torch.Tensor, cameras: list[Camera | None], usable: list[bool]) -> list[list[int]]:
    """``select_views`` for H hands at once (one projection through every usable camera).

    Args:
        landmarks: (H, 21, 3) world, metres.
    Returns:
        H lists of camera indices.
    """
    indices = [index for index, ok in enumerate(usable) if ok]
    if not indices:
        return [[] for _ in range(landmarks.shape[0])]
    stacked = Camera.stack([cameras[index] for index in indices])
    counts = stacked.visible(landmarks.reshape(-1, 3)).reshape(len(indices), *landmarks.shape[:-1]).sum(-1)  # (K, H)
    sees = (counts >= MIN_VISIBLE_LANDMARKS).T.tolist()
    return [[index for index, seen in zip(indices, row) if seen][:MAX_VIEWS] for row in sees]


class Tracker:
    """Stateful per-stream tracker. Call ``step`` once per frame, in order; ``reset`` between streams."""

    def __init__(
        self,
        net: UmeTrackNet,
        hand_model: HandModel,
        options: TrackerOptions = TrackerOptions(),
        detector: Detector | None = None,
        camera_angles_deg: tuple[float, ...] | None = None,
    ):
        if options.skeleton not in ("known", "unknown"):
            raise ValueError(f"skeleton must be 'known' or 'unknown', got {options.skeleton!r}")
        if options.crops not in ("tracked", "oracle"):
            raise ValueError(f"crops must be 'tracked' or 'oracle', got {options.crops!r}")
        if options.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {options.precision!r}")
        self.device = torch.device(options.device)
        self.net = net.eval()
        if options.fold_batchnorm:
            self.net = fold_batchnorm(self.net).to(memory_format=torch.channels_last)
        elif self.device.type != "cpu":
            self.net = copy.deepcopy(self.net)
        if options.precision == "bf16" or self.device.type != "cpu":
            self.net = self.net.to(self.device, memory_format=torch.channels_last)
        self.hand_model = hand_model.to(torch.float64)
        self.options = options
        self.detector = detector
        self.camera_angles_deg = camera_angles_deg
        self._skeleton = hand_model.to(torch.float32).skeleton_features().to(self.device)
        self.reset()

    def reset(self) -> None:
        self._previous: dict[int, HandPose] = {}
        self._previous_centre: dict[int, np.ndarray] = {}
        self._states: dict[int, TemporalState] = {}
        self._frames_since_check = 0
        self.redetections = 0
        """Tracks restarted by the drift check since the last reset."""
        self.ended_tracks = 0
        """Unsure tracks the drift check ended since the last reset (the detector did not find the hand)."""

    def step(
        self,
        images: list[np.ndarray | None],
        cameras: list[Camera | None] | None,
        gt_poses: dict[int, HandPose] | None = None,
    ) -> FrameResult:
        """Track one frame.

        Args:
            images: one (H, W) uint8 image per camera; None for a missing view.
            cameras: the posed cameras of this frame (None entries, or None for all when the
                headset is untracked).
            gt_poses: ground truth, required for ``crops="oracle"``.
        """
        timings: dict[str, float] = {}
        started = time.perf_counter()
        num_views = len(images)
        cameras = list(cameras) if cameras is not None else [None] * num_views
        valid_camera = [_camera_is_valid(c) for c in cameras]
        usable = [
            ok and image is not None and image.size > 0 and int(image.max()) > BLACK_IMAGE_MAX_LEVEL
            for ok, image in zip(valid_camera, images)
        ]
        crop_poses = self._crop_poses(images, cameras, gt_poses)
        results: dict[int, HandResult] = {}
        placed: list[tuple[int, HandPose]] = []
        for hand in (0, 1):
            pose = crop_poses.get(hand)
            if pose is None:
                results[hand] = HandResult(hand, Reason.LOST_TRACK if hand in self._previous else Reason.NOT_DETECTED)
            elif not any(valid_camera):
                results[hand] = HandResult(hand, Reason.INVALID_CAMERA)
            else:
                placed.append((hand, pose))
        batch, warp_seconds = self._place_crops(placed, images, cameras, usable, results) if placed else ([], 0.0)
        timings["crop_ms"] = 1e3 * (time.perf_counter() - started)
        timings["warp_ms"] = 1e3 * warp_seconds

        # Tracks that start this frame (from the detector or a drift-check restart; oracle crops start none).
        starting = {hand for hand, _ in placed if hand not in self._states} if self.options.crops == "tracked" else set()
        if batch:
            network_started = time.perf_counter()
            outputs = self._run_network(batch)
            timings["network_ms"] = 1e3 * (time.perf_counter() - network_started)
            fk_started = time.perf_counter()
            for (hand, *_), result in zip(batch, self._hand_results(batch, outputs)):
                results[hand] = result
            timings["fk_ms"] = 1e3 * (time.perf_counter() - fk_started)
        for _ in range(self.options.refine_new_tracks):
            if not self._refine(starting, images, cameras, usable, results):
                break

        for hand in starting:
            result = results[hand]
            if result.reason is Reason.TRACKED and result.confidence < self.options.min_start_confidence:
                results[hand] = replace(result, reason=Reason.LOW_CONFIDENCE, pose=None, landmarks=None, hand_scale=None)
        for hand, result in results.items():
            if result.reason is Reason.TRACKED:
                self._previous[hand] = result.pose
                self._previous_centre[hand] = result.landmarks.mean(0)
                if result.confidence < self.options.redetect_below_confidence:
                    self._frames_since_check = max(self._frames_since_check, self.options.redetect_every - 1)
            else:
                self._forget(hand)
        timings["total_ms"] = 1e3 * (time.perf_counter() - started)
        return FrameResult(results, timings)

    # -- internals -------------------------------------------------------------------------------

    def _camera_angle(self, view: int) -> float:
        if self.camera_angles_deg is None or view >= len(self.camera_angles_deg):
            return 0.0
        return float(self.camera_angles_deg[view])

    def _place_crops(self, placed, images, cameras, usable, results):
        """Crops for the hands in ``placed`` [(hand, pose)], all hands and views batched: one skinning
        call, one visibility projection, one crop-camera construction, one sampling-map projection.
        Hands that fail get their reason in ``results``. Returns the network batch
        [(hand, views, crops, (views, 96, 96) uint8)] and the seconds spent warping."""
        hands = [hand for hand, _ in placed]
        with torch.no_grad():
            hand_index = torch.tensor(hands)
            angles = torch.stack([pose.joint_angles.to(torch.float64) for _, pose in placed])
            wrists = torch.stack([pose.T_world_from_wrist.to(torch.float64) for _, pose in placed])
            # The crop region's first 21 points are the pose's own landmarks: one skinning call for both.
            region = crop_points(self.hand_model, angles, wrists, hand_index)  # (H, 63, 3)
            rows: list[tuple[int, int]] = []  # (position in placed, view)
            for position, (hand, views) in enumerate(zip(hands, select_views_batch(region[:, :21], cameras, usable))):
                if len(views) < self.options.min_views or not views:
                    results[hand] = HandResult(hand, Reason.TOO_FEW_VIEWS)
                else:
                    rows.extend((position, view) for view in views)
            if not rows:
                return [], 0.0
            positions = [position for position, _ in rows]
            crops, ok = make_crop_cameras(
                torch.stack([cameras[view].T_world_from_camera for _, view in rows]),
                region[positions],
                hand_index[positions],
                torch.tensor([self._camera_angle(view) for _, view in rows], dtype=torch.float64),
            )
        failed = {hands[position] for (position, _), good in zip(rows, ok.tolist()) if not good}
        kept = [k for k, (position, _) in enumerate(rows) if hands[position] not in failed]
        warp_started = time.perf_counter()
        warped = warp_image_batch([images[rows[k][1]] for k in kept], [crops[k] for k in kept], [cameras[rows[k][1]] for k in kept])
        warp_seconds = time.perf_counter() - warp_started
        by_hand: dict[int, list[tuple[int, CropCamera, np.ndarray]]] = {}
        for k, image in zip(kept, warped):
            by_hand.setdefault(hands[rows[k][0]], []).append((rows[k][1], crops[k], image))
        for hand in failed:
            results[hand] = HandResult(hand, Reason.CROP_FAILED)
        batch = [
            (hand, [view for view, _, _ in entries], [crop for _, crop, _ in entries], np.stack([image for _, _, image in entries]))
            for hand, entries in by_hand.items()
        ]
        return batch, warp_seconds

    def _crop_poses(self, images, cameras, gt_poses) -> dict[int, HandPose]:
        if self.options.crops == "oracle":
            return {h: p for h, p in (gt_poses or {}).items() if p.confidence >= 0.5}
        self._frames_since_check += 1
        if self._drift_check_due():
            self._frames_since_check = 0
            self._restart_drifted_tracks(images, cameras)
        poses = dict(self._previous)
        missing = [h for h in (0, 1) if h not in poses]
        if missing and self.detector is not None:
            try:
                found = self.detector(images, cameras)
            except UmeTrackError:
                found = {}
            poses.update({h: p for h, p in found.items() if h in missing})
        return poses

    def _refine(self, hands: set[int], images, cameras, usable, results: dict[int, HandResult]) -> bool:
        """Crop the tracked ones of ``hands`` again from their predictions and run them again with an
        empty memory; a refined result replaces the first where it is tracked too. Returns whether
        any hand was run."""
        again = [(hand, results[hand].pose) for hand in sorted(hands) if results[hand].reason is Reason.TRACKED]
        if not again:
            return False
        first_states = {hand: self._states.pop(hand) for hand, _ in again if hand in self._states}
        batch, _ = self._place_crops(again, images, cameras, usable, {})
        refined = self._hand_results(batch, self._run_network(batch)) if batch else []
        for (hand, *_), result in zip(batch, refined):
            if result.reason is Reason.TRACKED:
                results[hand] = result
                first_states.pop(hand, None)
        self._states.update(first_states)  # hands whose refinement failed keep the first pass's memory
        return bool(batch)

    def _forget(self, hand: int) -> None:
        """End the hand's track: the next frame starts it again from the detector, with an empty memory."""
        self._previous.pop(hand, None)
        self._previous_centre.pop(hand, None)
        self._states.pop(hand, None)

    def _drift_check_due(self) -> bool:
        every = self.options.redetect_every
        return bool(every > 0 and self._previous and self._frames_since_check >= every and isinstance(self.detector, LocatingDetector))

    def _restart_drifted_tracks(self, images, cameras) -> None:
        """Restart every tracked hand the detector places, from >= 2 views, farther than
        ``redetect_distance_m`` from its track (see ``TrackerOptions.redetect_every``); drop an unsure
        track (below ``redetect_below_confidence``) that the detector does not place."""
        try:
            found = self.detector.detect_hands(images, cameras)
        except UmeTrackError:
            return
        placed = {hand for hand, (_pose, location) in found.items() if len(location.views) >= 2}
        for hand in [h for h in self._previous if h not in placed and self._previous[h].confidence < self.options.redetect_below_confidence]:
            self._forget(hand)
            self.ended_tracks += 1
        for hand, (pose, location) in found.items():
            if hand not in self._previous or len(location.views) < 2:
                continue
            if float(np.linalg.norm(self._previous_centre[hand] - np.asarray(location.centre))) > self.options.redetect_distance_m:
                self._previous[hand] = pose
                self._states.pop(hand, None)
                self.redetections += 1

    def _run_network(self, batch):
        n = len(batch)
        images = torch.zeros(n, MAX_VIEWS, CROP_SIZE, CROP_SIZE)
        focal = torch.ones(n, MAX_VIEWS)
        extrinsics = torch.eye(4).repeat(n, MAX_VIEWS, 1, 1)
        num_views = torch.zeros(n, dtype=torch.long)
        hand_index = torch.zeros(n, dtype=torch.long)
        for row, (hand, views, crops, crop_images) in enumerate(batch):
            k = len(views)
            images[row, :k] = torch.from_numpy(crop_images).float() / 255.0
            focal[row, :k] = torch.stack([c.focal.float() for c in crops])
            extrinsics[row, :k] = torch.stack([c.T_crop_from_world.float() for c in crops])
            num_views[row] = k
            hand_index[row] = hand
        hands = [b[0] for b in batch]
        use_memory = torch.tensor([self.options.temporal and h in self._states for h in hands])
        memories = [self._states[h] if h in self._states else None for h in hands]
        state = None
        if use_memory.any():
            memory = torch.zeros(n, *next(m for m in memories if m is not None).memory.shape[1:])
            previous_extrinsics = torch.eye(4).repeat(n, 1, 1)
            for row, m in enumerate(memories):
                if m is not None:
                    memory[row] = m.memory[0]
                    previous_extrinsics[row] = m.extrinsics[0]
            state = TemporalState(memory, previous_extrinsics)
        reduced = self.options.precision == "bf16"
        if self.device.type != "cpu":
            images, focal, extrinsics, num_views, hand_index, use_memory = (
                t.to(self.device, non_blocking=True) for t in (images, focal, extrinsics, num_views, hand_index, use_memory)
            )
            if state is not None:
                state = TemporalState(state.memory.to(self.device), state.extrinsics.to(self.device))
        with torch.no_grad(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=reduced):
            z_t, new_state = self.net.temporal_features(images, focal, extrinsics, num_views, state, use_memory)
            if self.options.skeleton == "known":
                output = self.net.regress_known(z_t, self._skeleton, extrinsics[:, 0], hand_index, new_state)
            else:
                output = self.net.regress_unknown(z_t, extrinsics[:, 0], hand_index, new_state)
        if self.device.type != "cpu":
            output = output.to("cpu")  # its state is the new one: moved once, with the pose
            new_state = output.state
        for row, hand in enumerate(hands):
            self._states[hand] = TemporalState(new_state.memory[row : row + 1].float().clone(), new_state.extrinsics[row : row + 1].clone())
        return [
            (output.joint_angles[row].float(), output.T_world_from_wrist[row].float(), output.uncertainty[row].float(),
             None if output.hand_scale is None else float(output.hand_scale[row]))
            for row in range(n)
        ]  # fmt: skip

    def _hand_results(self, batch, outputs) -> list[HandResult]:
        """Results of the network batch: the predicted landmarks of all hands in one skinning call,
        and whether they stay inside their crops (all crops in one projection)."""
        angles = torch.stack([output[0] for output in outputs]).double()  # (n, 22)
        wrists = torch.stack([output[1] for output in outputs]).double()  # (n, 4, 4)
        scales = [output[3] for output in outputs]
        scale = None if all(s is None for s in scales) else torch.tensor([1.0 if s is None else s for s in scales], dtype=torch.float64)
        hand_index = torch.tensor([hand for hand, *_ in batch])
        with torch.no_grad():
            landmarks = fk.landmarks(self.hand_model, angles, wrists, hand_index, scale)  # (n, 21, 3)
            # The prediction must stay inside the crops it came from; otherwise the track is lost.
            owners = [row for row, (_, _, crops, _) in enumerate(batch) for _ in crops]
            crops = [crop for _, _, hand_crops, _ in batch for crop in hand_crops]
            stacked = CropCamera(torch.stack([c.T_crop_from_world for c in crops]), torch.stack([c.focal for c in crops]))
            pixels = stacked.project(landmarks[owners].to(stacked.focal.dtype))  # (crops, 21, 2)
            in_crop = ((pixels - (CROP_SIZE - 1) / 2).abs() < CROP_SIZE).all(-1).all(-1).tolist()
        inside = [False] * len(batch)
        for row, good in zip(owners, in_crop):
            inside[row] = inside[row] or good
        return [
            self._hand_result(hand, views, crops, crop_images, angles[row], wrists[row], output[2], output[3], landmarks[row], inside[row])
            for row, ((hand, views, crops, crop_images), output) in enumerate(zip(batch, outputs))
        ]

    def _hand_result(self, hand, views, crops, crop_images, angles, wrist, uncertainty, scale, landmarks, inside) -> HandResult:
        if not (torch.isfinite(angles).all() and torch.isfinite(wrist).all()):
            return HandResult(hand, Reason.LOW_CONFIDENCE, views=tuple(views), crops=tuple(crops), crop_images=crop_images)
        confidence = float(torch.exp(-uncertainty.mean() / self.options.uncertainty_scale_m))
        if not inside or confidence < self.options.min_confidence:
            reason = Reason.LOST_TRACK if not inside else Reason.LOW_CONFIDENCE
            return HandResult(hand, reason, views=tuple(views), crops=tuple(crops), crop_images=crop_images, confidence=confidence)
        return HandResult(
            hand_index=hand,
            reason=Reason.TRACKED,
            pose=HandPose(hand, angles, wrist, confidence),
            landmarks=landmarks.numpy(),
            views=tuple(views),
            crops=tuple(crops),
            crop_images=crop_images,
            confidence=confidence,
            hand_scale=scale,
        )
