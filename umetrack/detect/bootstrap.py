"""The learned bootstrap: find hands in the full views and place a rough pose for the tracker's first crop.

``HandDetector(weights)`` is a ``umetrack.track.tracker.Detector``. Per frame:

1. every usable view (an image that is not black and a finite camera) is downscaled to 160x120 and
   run through ``HandDetectorNet`` (one batch);
2. per side, each view with presence >= ``presence_threshold`` gives the heatmap peak (sub-pixel, in
   view pixels), unprojected to a world ray with that view's camera, and a depth along the ray;
3. >= 2 views: the hand centre is the least-squares closest point of the rays (``triangulate_rays``,
   weakly pulled towards each view's predicted depth) of the largest set of views that agree on it (``consensus_point``: rays within
   ``MAX_RAY_DISTANCE_M``, so a wrong peak in one view is outvoted); no two views agree, or one
   view: the point at the network's predicted depth along the most confident view's ray;
4. the pose: neutral joint angles (``HandModel.neutral_angles``, what the crops assume anyway) and
   a default wrist orientation (``default_wrist_rotation``: fingers forward and up, palm towards
   the headset), translated so that the mean of the 21 landmarks lands on the centre.
   ``HandPose.confidence`` is the highest presence probability among the views used.

Nothing raises for bad input: None or black images and None / non-finite cameras are skipped; a
frame with nothing usable returns {}.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from umetrack.camera import Camera
from umetrack.detect.network import (
    NUM_SIDES,
    HandDetectorNet,
    decode_peak,
    gather_at,
    heatmap_to_image,
    preprocess,
)
from umetrack.detect.train import WEIGHTS_KIND
from umetrack.errors import FormatError
from umetrack.hand import fk
from umetrack.hand.model import HandModel
from umetrack.hand.pose import HandPose
from umetrack.model.checkpoint import load_state_dict_strict, read_checkpoint
from umetrack.track.tracker import BLACK_IMAGE_MAX_LEVEL
from umetrack.track.tracker import _camera_is_valid as camera_is_valid  # the tracker's own test, not a copy

from umetrack.resources import DETECTOR_WEIGHTS as DEFAULT_WEIGHTS
from umetrack.resources import HAND_MODEL as DEFAULT_HAND_MODEL

PRESENCE_THRESHOLD = 0.5
MAX_RAY_DISTANCE_M = 0.05
"""A view's ray may pass at most this far from the triangulated centre (a hand is ~10 cm across)."""
DEPTH_RANGE_M = (0.08, 1.5)
"""Predicted single-view depths are clamped to this range (hands are held 0.1-1 m from the cameras)."""
TYPICAL_DEPTH_M = 0.45
"""Single-view fallback when the network's depth is not finite: a typical hand-to-camera distance
in the synthetic world (hands 0.2-0.5 m ahead of and 0.1-0.5 m below the eyes)."""
DEPTH_PRIOR_WEIGHT = 0.1
"""Weight of the network's per-view depth against the rays when the agreeing views are re-triangulated:
the front pair's 8 cm baseline turns a 10 px peak error into ~5 cm of depth, while the depth
head is off by ~13 % (median, held-out); 0.1 lowered the held-out centre error by ~20 %."""
MIN_RAY_ANGLE_RAD = 1e-3
"""Rays closer to parallel than this cannot be triangulated."""


def triangulate_rays(origins: np.ndarray, directions: np.ndarray, depths: np.ndarray | None = None, depth_weight: float = 0.0) -> np.ndarray | None:
    """Least-squares closest point to N rays, optionally pulled towards a depth along each:
    argmin_p sum_i |(I - d_i d_i^T)(p - o_i)|^2 + depth_weight (d_i^T (p - o_i) - depth_i)^2.

    Args:
        origins: (N, 3) ray origins. directions: (N, 3) unit directions. N >= 2 without depths.
        depths: (N,) distances along the rays (metres), used when ``depth_weight`` > 0.
    Returns:
        (3,) the point, or None when it is not determined (near-parallel rays without depths) or
        the input is not finite.
    """
    origins = np.asarray(origins, dtype=np.float64)
    directions = np.asarray(directions, dtype=np.float64)
    use_depths = depths is not None and depth_weight > 0.0
    if (len(origins) < 2 and not use_depths) or not (np.isfinite(origins).all() and np.isfinite(directions).all()):
        return None
    along = directions[:, :, None] * directions[:, None, :]  # (N, 3, 3)
    projectors = np.eye(3)[None] - along
    normal_matrix = projectors.sum(0)
    rhs = (projectors @ origins[:, :, None]).sum(0)[:, 0]
    if use_depths:
        depths = np.asarray(depths, dtype=np.float64)
        if not np.isfinite(depths).all():
            return None
        normal_matrix = normal_matrix + depth_weight * along.sum(0)
        rhs = rhs + depth_weight * (directions * ((directions * origins).sum(-1) + depths)[:, None]).sum(0)
    # Without depths the smallest eigenvalue of sum(I - d d^T) is ~ sin^2 of the angle between the rays.
    elif np.linalg.eigvalsh(normal_matrix)[0] < MIN_RAY_ANGLE_RAD**2:
        return None
    return np.linalg.solve(normal_matrix, rhs)


def ray_distances(point: np.ndarray, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """(N,) distance of ``point`` (3,) from each ray (N, 3) origins, (N, 3) unit directions."""
    offsets = np.asarray(point)[None] - origins
    along = (offsets * directions).sum(-1, keepdims=True)
    return np.linalg.norm(offsets - along * directions, axis=-1)


def default_wrist_rotation(hand_model: HandModel, hand_index: int, view_direction: np.ndarray, up: np.ndarray) -> torch.Tensor:
    """Wrist rotation (hand's own convention) of a hand seen along ``view_direction``: fingers pointing
    away from the viewer and up (the bisector of the two), palm towards the viewer.

    The hand's own fingers axis (wrist -> middle of the four MCPs) and palm normal (-y, hand_model.md
    §6, also for the mirrored right hand) come from its neutral-pose landmarks.

    Args:
        view_direction: (3,) world direction from the cameras to the hand. up: (3,) world up.
    Returns:
        (3, 3) float64 proper rotation.
    """
    d = np.asarray(view_direction, np.float64) / np.linalg.norm(view_direction)
    fingers_world = d + np.asarray(up, np.float64) / np.linalg.norm(up)
    if np.linalg.norm(fingers_world) < 1e-6:  # looking straight down: fingers forward
        fingers_world = d
    fingers_world /= np.linalg.norm(fingers_world)
    palm_world = -(d - (d @ fingers_world) * fingers_world)
    if np.linalg.norm(palm_world) < 1e-6:  # fingers along the view: any palm normal across it
        palm_world = np.cross(fingers_world, [1.0, 0.0, 0.0] if abs(fingers_world[0]) < 0.9 else [0.0, 1.0, 0.0])
    palm_world /= np.linalg.norm(palm_world)
    local = _local_landmarks(hand_model, hand_index)
    fingers_local = local[[8, 11, 14, 17]].mean(0) - local[5]
    palm_local = np.array([0.0, -1.0, 0.0])
    fingers_local = fingers_local - (fingers_local @ palm_local) * palm_local
    fingers_local /= np.linalg.norm(fingers_local)
    world = np.stack([fingers_world, palm_world, np.cross(fingers_world, palm_world)], 1)
    hand = np.stack([fingers_local, palm_local, np.cross(fingers_local, palm_local)], 1)
    return torch.from_numpy(world @ hand.T)


def _local_landmarks(hand_model: HandModel, hand_index: int) -> np.ndarray:
    """(21, 3) landmarks of the neutral pose with an identity wrist, in the hand's own convention."""
    model = hand_model.to(torch.float64)
    with torch.no_grad():
        return fk.landmarks(model, model.neutral_angles, torch.eye(4, dtype=torch.float64), hand_index).numpy()


def bootstrap_pose(hand_model: HandModel, hand_index: int, centre_world: np.ndarray, rotation: torch.Tensor, confidence: float) -> HandPose:
    """Neutral pose with wrist ``rotation`` (3, 3) whose landmark mean is ``centre_world`` (3,) metres."""
    model = hand_model.to(torch.float64)
    local_centre = _local_landmarks(hand_model, hand_index).mean(0)
    wrist = torch.eye(4, dtype=torch.float64)
    wrist[:3, :3] = rotation.to(torch.float64)
    wrist[:3, 3] = torch.as_tensor(np.asarray(centre_world, np.float64) - rotation.numpy() @ local_centre)
    return HandPose(hand_index, model.neutral_angles.clone(), wrist, float(confidence))


@dataclass(frozen=True)
class ViewDetection:
    """One hand side found in one view: ``pixel`` (2,) view pixels, ``presence`` 0..1 probability,
    ``depth_m`` the network's distance from the camera, ``origin``/``direction`` (3,) the world ray."""

    view: int
    hand_index: int
    presence: float
    pixel: np.ndarray
    depth_m: float
    origin: np.ndarray
    direction: np.ndarray


@dataclass(frozen=True)
class HandLocation:
    """Where the detector puts a hand: ``centre`` (3,) world metres, from ``views`` (triangulated
    when two or more), with ``confidence`` the best presence among them."""

    hand_index: int
    centre: np.ndarray
    views: tuple[int, ...]
    confidence: float


def load_detector_network(weights: str | Path | dict) -> HandDetectorNet:
    """The network from ``export_detector_weights``' file (``weights_only=True``) or its loaded dict."""
    source = weights if isinstance(weights, (str, Path)) else "hand detector weights"
    document = read_checkpoint(weights) if isinstance(weights, (str, Path)) else weights
    if document.get("kind") != WEIGHTS_KIND:
        raise FormatError(source, "kind", f"not hand detector weights (expected kind {WEIGHTS_KIND!r}, got {document.get('kind')!r})")
    width = int(document.get("config", {}).get("width", 16))
    net = HandDetectorNet(width)
    load_state_dict_strict(net, document["model"], source)
    return net.eval()


class HandDetector:
    """Callable ``(images, cameras) -> {hand_index: HandPose}`` (see the module docstring)."""

    def __init__(self, weights: str | Path | dict | HandDetectorNet = DEFAULT_WEIGHTS, hand_model: HandModel | None = None,
                 presence_threshold: float = PRESENCE_THRESHOLD):  # fmt: skip
        self.net = weights.eval() if isinstance(weights, HandDetectorNet) else load_detector_network(weights)
        if hand_model is None:
            from umetrack.hand.io import load_hand_model

            hand_model = load_hand_model(DEFAULT_HAND_MODEL)
        self.hand_model = hand_model.to(torch.float64)
        self.presence_threshold = float(presence_threshold)

    def __call__(self, images: list[np.ndarray | None], cameras: list[Camera | None] | None) -> dict[int, HandPose]:
        return {hand: pose for hand, (pose, _location) in self.detect_hands(images, cameras).items()}

    def detect_hands(self, images: list[np.ndarray | None], cameras: list[Camera | None] | None) -> dict[int, tuple[HandPose, HandLocation]]:
        """Per hand found: its bootstrap pose and where it was found (centre, views, confidence)."""
        cameras = list(cameras) if cameras is not None else [None] * len(images)
        poses = {}
        for location in self.locate(self.detect_views(images, cameras)).values():
            used = [c for v, c in enumerate(cameras) if v in location.views]
            centre_of_cameras = np.mean([c.T_world_from_camera[:3, 3].double().numpy() for c in used], 0)
            # Image up (-y of the camera) of the headset's cameras: the world up as the headset sees it,
            # whatever the recording's world convention.
            up = -np.mean([c.T_world_from_camera[:3, 1].double().numpy() for c in used], 0)
            rotation = default_wrist_rotation(self.hand_model, location.hand_index, location.centre - centre_of_cameras, up)
            poses[location.hand_index] = (bootstrap_pose(self.hand_model, location.hand_index, location.centre, rotation, location.confidence), location)
        return poses

    def detect_views(self, images: list[np.ndarray | None], cameras: list[Camera | None]) -> list[ViewDetection]:
        """Per usable view and side above the presence threshold: the peak and its world ray."""
        usable = [
            v for v, (image, camera) in enumerate(zip(images, cameras))
            if image is not None and image.ndim == 2 and image.size > 0 and int(image.max()) > BLACK_IMAGE_MAX_LEVEL
            and camera_is_valid(camera)
        ]  # fmt: skip
        if not usable:
            return []
        batch = torch.from_numpy(np.stack([preprocess(np.asarray(images[v], np.uint8)) for v in usable])).float()[:, None] / 255.0
        with torch.no_grad():
            output = self.net(batch)
        presence = torch.sigmoid(output.presence_logit).numpy()
        log_heatmaps = output.heatmap_logits.numpy()
        log_depth = output.log_depth.numpy()
        detections = []
        for row, view in enumerate(usable):
            sides = [side for side in range(NUM_SIDES) if presence[row, side] >= self.presence_threshold]
            if not sides:
                continue
            camera = cameras[view]
            cells = np.stack([decode_peak(log_heatmaps[row, side]) for side in sides])
            pixels = heatmap_to_image(cells, (camera.model.width, camera.model.height))
            rays, valid = camera.model.unproject(torch.from_numpy(pixels))  # one Newton solve for both sides
            T = camera.T_world_from_camera.double()
            directions = (rays.double() @ T[:3, :3].T).numpy()
            for k, side in enumerate(sides):
                if not bool(valid[k]) or not np.isfinite(directions[k]).all():
                    continue
                depth = float(np.exp(gather_at(log_depth[row, side], cells[k])))
                depth = float(np.clip(depth, *DEPTH_RANGE_M)) if np.isfinite(depth) else TYPICAL_DEPTH_M
                detections.append(ViewDetection(view, side, float(presence[row, side]), pixels[k], depth, T[:3, 3].numpy(),
                                                directions[k] / np.linalg.norm(directions[k])))  # fmt: skip
        return detections

    @staticmethod
    def locate(detections: list[ViewDetection]) -> dict[int, HandLocation]:
        """Per side: the hand centre agreed by the most views (``consensus_point``), else the most
        confident view's ray at its predicted depth."""
        found = {}
        for side in range(NUM_SIDES):
            views = sorted((d for d in detections if d.hand_index == side), key=lambda d: -d.presence)
            if not views:
                continue
            consensus = consensus_point(views)
            if consensus is not None:
                point, inliers = consensus
                found[side] = HandLocation(side, point, tuple(sorted(d.view for d in inliers)), max(d.presence for d in inliers))
            else:
                best = views[0]
                found[side] = HandLocation(side, best.origin + best.depth_m * best.direction, (best.view,), best.presence)
        return found


def consensus_point(views: list[ViewDetection]) -> tuple[np.ndarray, list[ViewDetection]] | None:
    """Triangulate every pair of views; keep the point that the most rays pass within
    ``MAX_RAY_DISTANCE_M`` of, at a depth in ``DEPTH_RANGE_M`` along each (ties: the larger summed
    presence), and re-triangulate it from those rays. A wrong peak in one view (the other hand, a
    background blob) then costs that view instead of pulling the point away.

    Returns:
        (3,) point and the agreeing views (>= 2), or None when no two views agree.
    """
    if len(views) < 2:
        return None
    origins = np.stack([d.origin for d in views])
    directions = np.stack([d.direction for d in views])

    def agreeing(point: np.ndarray) -> np.ndarray:
        depth = ((point[None] - origins) * directions).sum(-1)
        in_range = (depth > DEPTH_RANGE_M[0]) & (depth < DEPTH_RANGE_M[1])
        return in_range & (ray_distances(point, origins, directions) <= MAX_RAY_DISTANCE_M)

    best, best_score = None, (0, 0.0)
    for a in range(len(views)):
        for b in range(a + 1, len(views)):
            point = triangulate_rays(origins[[a, b]], directions[[a, b]])
            if point is None:
                continue
            inliers = agreeing(point)
            score = (int(inliers.sum()), float(sum(d.presence for d, ok in zip(views, inliers) if ok)))
            if score[0] >= 2 and score > best_score:
                best, best_score = (point, inliers), score
    if best is None:
        return None
    point, inliers = best
    depths = np.array([d.depth_m for d in views])
    refined = triangulate_rays(origins[inliers], directions[inliers], depths[inliers], DEPTH_PRIOR_WEIGHT)
    if refined is not None and agreeing(refined)[inliers].all():
        point = refined
    return point, [d for d, ok in zip(views, inliers) if ok]


@functools.lru_cache(maxsize=4)
def _cached_network(path: str, modified_ns: int) -> HandDetectorNet:
    return load_detector_network(path)


def default_detector(hand_model: HandModel | None = None, weights: str | Path | None = None) -> HandDetector | None:
    """The detector of ``weights`` (default: the shipped ``resources/weights/hand_detector.pt``), or
    None when the file is absent. The network is loaded once per file version."""
    path = Path(weights if weights is not None else DEFAULT_WEIGHTS)
    if not path.exists():
        return None
    return HandDetector(_cached_network(str(path), path.stat().st_mtime_ns), hand_model)
