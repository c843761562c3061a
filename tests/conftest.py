"""Shared test fixtures: where the public reference data lives (skip cleanly when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
import numpy as np
import torch

from umetrack.camera.models import CameraModel
from umetrack.geometry import make_transform, quaternion_wxyz_to_matrix
from umetrack.recording import ArrayFrameSource, HandTrajectory, PinchLabels, Recording

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def shared_data_path(*parts: str) -> Path:
    """Path under ../shared/data, or skip the calling test when that data is not on this machine."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data not available: {path}")
    return path


@pytest.fixture
def hot3d_dir() -> Path:
    return shared_data_path("hot3d_quest3")


@pytest.fixture
def generic_hand_model_path() -> Path:
    return shared_data_path("umetrack", "generic_hand_model.json")


@pytest.fixture(scope="session")
def hand_model():
    """The project's own hand model asset (resources/hand_model.json), metres."""
    from umetrack.hand.io import load_hand_model

    return load_hand_model(REPO_ROOT / "resources" / "hand_model.json")


# -- a small recording with known poses and images, for the recording and app tests --

NUM_FRAMES, WIDTH, HEIGHT = 20, 160, 120
UNTRACKED_FRAME = 5


def random_rigid(rng: np.random.Generator, shape: tuple[int, ...], spread_m: float = 0.5) -> np.ndarray:
    """(*shape, 4, 4) random proper rigid transforms, metres."""
    q = torch.as_tensor(rng.normal(size=(*shape, 4)))
    t = torch.as_tensor(rng.uniform(-spread_m, spread_m, size=(*shape, 3)))
    return make_transform(quaternion_wxyz_to_matrix(q), t).numpy()


def moving_pattern(num_frames: int, num_views: int, height: int, width: int) -> np.ndarray:
    """uint8 (N, V, H, W): smooth stripes drifting with time plus a bright moving disc per view."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    out = np.empty((num_frames, num_views, height, width), dtype=np.uint8)
    for i in range(num_frames):
        for v in range(num_views):
            image = 110 + 70 * np.sin((xx + 4 * i + 31 * v) / 9.0) * np.cos((yy - 2 * i) / 13.0)
            cx, cy = (20 + 6 * i + 15 * v) % width, (30 + 3 * i) % height
            image[(xx - cx) ** 2 + (yy - cy) ** 2 < 12**2] = 245
            out[i, v] = np.clip(image, 0, 255).astype(np.uint8)
    return out


@pytest.fixture
def make_recording(hand_model):
    """Factory: a 2-view fisheye62 recording, 20 frames, frame 5 untracked, right hand absent in
    frames 0-2, pinch labels on both hands, images a moving pattern (in memory)."""

    def make(num_frames: int = NUM_FRAMES, num_views: int = 2, width: int = WIDTH, height: int = HEIGHT, name: str = "recording_00", seed: int = 0):
        rng = np.random.default_rng(seed)
        model = CameraModel("fisheye62", width, height, 0.5 * width, 0.5 * width, (width - 1) / 2 + 0.3, (height - 1) / 2 - 0.2,
                            (0.21, -0.03, 0.004, -0.0002, 0.0007, -0.0004, 0.00001, -0.000002))  # fmt: skip
        T_cam = random_rigid(rng, (num_frames, num_views))
        tracked = np.ones(num_frames, dtype=bool)
        tracked[min(UNTRACKED_FRAME, num_frames - 1)] = False
        T_cam[~tracked] = 0.0  # how UmeTrack raw data marks an untracked headset
        confidence = np.ones((num_frames, 2))
        confidence[:3, 1] = 0.0
        wrists = random_rigid(rng, (num_frames, 2))
        wrists[confidence <= 0] = 0.0
        angles = rng.uniform(-0.3, 1.2, size=(num_frames, 2, 22))
        angles[..., 20:] = 0.0
        pinch = np.zeros((num_frames, 2), dtype=bool)
        pinch[4:9, 0] = True
        pinch[12:15, 1] = pinch[17:, 1] = True
        return Recording(
            name=name,
            timestamps_ns=1_000_000 + np.arange(num_frames, dtype=np.int64) * 33_333_333,
            view_labels=tuple(f"cam{v}" for v in range(num_views)),
            camera_models=(model,) * num_views,
            T_world_from_camera=T_cam,
            headset_tracked=tracked,
            frames=ArrayFrameSource.from_stack(moving_pattern(num_frames, num_views, height, width)),
            camera_angles_deg=tuple(90.0 * v for v in range(num_views)),
            hand_model=hand_model,
            gt=HandTrajectory(angles, wrists, confidence),
            pinch=PinchLabels(pinch),
        )

    return make


# -- tracker results built directly from landmarks (no trained weights needed) --


@pytest.fixture
def tracked_from_landmarks():
    """Factory: a ``TrackedRecording`` holding the given (N, 2, 21, 3) predicted landmarks, stored
    as the tracker stores them: reason "tracked" where a hand's landmarks are finite, else
    ``reasons`` (an (N, 2) array of ``Reason``-index codes, default "not detected"); no crops."""
    from umetrack.track.results import REASONS, TrackedRecording
    from umetrack.track.tracker import Reason, TrackerOptions

    def make(landmarks: np.ndarray, reasons: np.ndarray | None = None) -> TrackedRecording:
        landmarks = np.asarray(landmarks, dtype=np.float32)
        n = landmarks.shape[0]
        tracked = np.isfinite(landmarks).all(axis=(-1, -2))
        codes = np.full((n, 2), REASONS.index(Reason.NOT_DETECTED), np.int8) if reasons is None else np.asarray(reasons, np.int8).copy()
        codes[tracked] = REASONS.index(Reason.TRACKED)
        return TrackedRecording(
            landmarks=landmarks,
            reasons=codes,
            views=np.full((n, 2, 2), -1, np.int8),
            crop_images=np.zeros((n, 2, 2, 96, 96), np.uint8),
            T_crop_from_world=np.full((n, 2, 2, 4, 4), np.nan, np.float32),
            focal=np.full((n, 2, 2), np.nan, np.float32),
            confidence=tracked.astype(np.float32),
            options=TrackerOptions(),
        )

    return make


# -- network weights that track without training (for calibration and tracking workflows) --

STEADY_NETWORK_SCALE = 1.04


@pytest.fixture
def steady_network_scale() -> float:
    """The hand scale ``steady_light_network`` predicts (to ~1e-3: its output layers keep a trace of their random weights)."""
    return STEADY_NETWORK_SCALE


@pytest.fixture
def steady_light_network(hand_model):
    """A randomly initialised light network whose regressors' output layers are turned down (weights
    x 0.01) and biased to one plausible hand: neutral fingers, centred 40 cm in front of the reference
    crop camera, scale ``STEADY_NETWORK_SCALE``. An untrained network's hand lands outside its crops,
    so every hand would be a lost track; this one tracks every hand it is given crops for, which
    makes calibration samples and known-skeleton errors exist without trained weights."""
    from umetrack.model.root import reference_points
    from umetrack.train.loop import make_network

    torch.manual_seed(0)
    net = make_network("light")
    wrist_points = reference_points() - hand_model.landmark_rest_positions.mean(0).float() + torch.tensor([0.0, 0.0, 0.4])
    finger_angles = hand_model.neutral_angles[:20].float()
    for regressor, predicts_scale in ((net._regressor_u, True), (net._regressor_k, False)):
        output = regressor._pose_regression_layers[2]
        with torch.no_grad():
            output.weight.mul_(0.01)
            bias = torch.zeros_like(output.bias)
            bias[:20] = finger_angles
            bias[20:41] = wrist_points.flatten()
            if predicts_scale:
                bias[41] = float(np.log(STEADY_NETWORK_SCALE))
            output.bias.copy_(bias)
    return net.eval()


@pytest.fixture
def two_view_hand_frames():
    """Factory: (hand, frame) pairs of ``frames`` in which at least two cameras see >= 19 landmarks of
    the hand's GT pose posed on ``model``: the hand observations a scale calibration samples. Counted
    with the tracker's own view selection, frame by frame."""
    from umetrack.hand import fk
    from umetrack.track.tracker import select_views

    def find(recording, model, frames, hands=(0, 1)) -> list[tuple[int, int]]:
        model = model.to(torch.float64)
        found = []
        for frame in frames:
            cameras = recording.cameras(frame)
            for hand, pose in sorted(recording.gt_poses(frame).items()):
                if hand not in hands or pose.confidence < 0.5 or cameras is None:
                    continue
                points = fk.landmarks(model, pose.joint_angles.double(), pose.T_world_from_wrist.double(), hand)
                if len(select_views(points, cameras, [True] * len(cameras))) >= 2:
                    found.append((hand, frame))
        return found

    return find
