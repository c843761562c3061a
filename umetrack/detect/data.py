"""Labelled full views of the synthetic world for the hand detector, deterministic from seeds.

Each sequence seed gives a ``generate_sequence`` recording, a scene and a sensor (as
``umetrack.synth.recording`` draws them), and a few frames spread over it; every frame is rendered
in all four views with ``render_view``, whose mask says which pixels show which hand. A hand is
*present* in a view when its centre (the mean of its 21 landmarks) projects inside the image in
front of the camera and at least ``PRESENT_MIN_PIXELS`` of its pixels are visible (occlusion by
the other hand counts). Hands with a few visible pixels, or a visible hand whose centre is just
outside the image, are ambiguous: their presence is not trained (weight 0).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch

from umetrack.camera import Camera
from umetrack.detect.network import preprocess
from umetrack.hand.model import HandModel
from umetrack.synth.background import WORLD_UP, Environment
from umetrack.synth.render import Hands, Look, Scene, Sensor, render_view
from umetrack.synth.seeds import SEED_BLOCK
from umetrack.synth.scenario import SyntheticSequence, generate_sequence

PRESENT_MIN_PIXELS = 400
"""Visible hand pixels (640x480 view) for a hand to count as present (a hand at 0.5 m covers ~5,000)."""
AMBIGUOUS_MIN_PIXELS = 60
"""Below this a hand counts as absent; between the two its presence is not trained."""
SEQUENCE_FRAMES = 300
"""Frames generated per sequence (10 s); the sampled frames are spread over them."""
ENVIRONMENTS_PER_BLOCK = 64
"""Backgrounds per seed block: seed s uses environment (s // SEED_BLOCK, s % 64), so training seeds
(block 2) and held-out seeds (block 9) never share a background (the detector's first run, with 16
backgrounds, had learnt them: 38 % false positives per view on new ones). Skin and lights
(``Look``) are drawn per sequence. Seed ownership: ``umetrack.synth.seeds``."""


@dataclass(frozen=True, eq=False)
class LabelledFrame:
    """One rendered multi-view frame with the detector's labels. V views, hands 0 left, 1 right.

    Attributes:
        images: (V, H, W) uint8 full views.
        cameras: the V posed cameras.
        centres_world: (2, 3) float64 hand centres (mean of the 21 landmarks), metres.
        centres_px: (V, 2, 2) float64 projections of the centres, pixels (meaningless where not present).
        depth_m: (V, 2) distance of each centre from each camera centre, metres.
        present: (V, 2) bool. presence_weight: (V, 2) 0 for ambiguous hands, else 1.
        visible_pixels: (V, 2) int visible pixels of each hand.
    """

    images: np.ndarray
    cameras: tuple[Camera, ...]
    centres_world: np.ndarray
    centres_px: np.ndarray
    depth_m: np.ndarray
    present: np.ndarray
    presence_weight: np.ndarray
    visible_pixels: np.ndarray


def _frame_seed(seed: int, frame: int, view: int) -> int:
    return (seed * 1_000_003 + frame * 31 + view + 17) % (2**32)


def _environment(block: int, key: int) -> Environment:
    return Environment.generate(int(np.random.SeedSequence([block, key, 11]).generate_state(1)[0] % 2**31), WORLD_UP)


def _sequence_and_scene(hand_model: HandModel, seed: int) -> tuple[SyntheticSequence, Scene, Sensor, np.random.Generator]:
    sequence = generate_sequence(hand_model, SEQUENCE_FRAMES, seed)
    rng = np.random.default_rng([seed, 7])
    scene = Scene(_environment(seed // SEED_BLOCK, seed % ENVIRONMENTS_PER_BLOCK), Look.sample(rng))
    sensor = Sensor.sample(rng)
    return sequence, scene, sensor, rng


def label_frame(images: np.ndarray, masks: np.ndarray, cameras: tuple[Camera, ...], centres_world: np.ndarray) -> LabelledFrame:
    """Labels of one frame from its rendered masks (0 background, 1 left, 2 right, 3 forearm).

    Args:
        images, masks: (V, H, W) uint8. centres_world: (2, 3) metres.
    """
    num_views = len(cameras)
    centres_px = np.zeros((num_views, 2, 2))
    depth = np.zeros((num_views, 2))
    present = np.zeros((num_views, 2), bool)
    weight = np.ones((num_views, 2), np.float32)
    pixels = np.zeros((num_views, 2), np.int64)
    for view, camera in enumerate(cameras):
        centres = torch.as_tensor(centres_world, dtype=torch.float64)
        projected, _valid = camera.project_world(centres)
        in_view = camera.visible(centres).numpy()
        eye = camera.world_to_eye(centres)
        centres_px[view] = projected.numpy()
        depth[view] = eye.norm(dim=-1).numpy()
        for hand in (0, 1):
            count = int((masks[view] == hand + 1).sum())
            pixels[view, hand] = count
            present[view, hand] = bool(in_view[hand]) and count >= PRESENT_MIN_PIXELS
            ambiguous = (AMBIGUOUS_MIN_PIXELS <= count < PRESENT_MIN_PIXELS) or (count >= PRESENT_MIN_PIXELS and not in_view[hand])
            weight[view, hand] = 0.0 if ambiguous else 1.0
    return LabelledFrame(images, cameras, np.asarray(centres_world, np.float64), centres_px, depth, present, weight, pixels)


def render_labelled_frames(hand_model: HandModel, seed: int, num_frames: int) -> list[LabelledFrame]:
    """``num_frames`` frames of sequence ``seed``, spread evenly over it with a random start."""
    sequence, scene, sensor, rng = _sequence_and_scene(hand_model, seed)
    spacing = SEQUENCE_FRAMES // num_frames
    frames = int(rng.integers(spacing)) + spacing * np.arange(num_frames)
    landmarks = sequence.landmarks()  # (N, 2, 21, 3)
    out = []
    for frame in frames.tolist():
        hands = Hands.posed(sequence.hand_model, sequence.joint_angles[frame], sequence.T_world_from_wrist[frame], (0, 1),
                            sequence.elbow_positions[frame])  # fmt: skip
        frame_sensor = replace(sensor, gain=float(sensor.gain * np.exp(rng.normal(0.0, 0.15))))
        cameras = sequence.cameras(frame)
        views = [render_view(camera, hands, scene, frame_sensor, _frame_seed(seed, frame, v)) for v, camera in enumerate(cameras)]
        images = np.stack([v.image for v in views])
        masks = np.stack([v.mask for v in views])
        out.append(label_frame(images, masks, cameras, landmarks[frame].mean(1).numpy()))
    return out


@dataclass(frozen=True, eq=False)
class DetectorDataset:
    """Downscaled labelled views (M of them) for training.

    Attributes:
        images: (M, 120, 160) uint8. image_size: (width, height) of the full views.
        centres_px: (M, 2, 2) float32 full-view pixels. depth_m: (M, 2) float32.
        present: (M, 2) bool. presence_weight: (M, 2) float32.
    """

    images: np.ndarray
    centres_px: np.ndarray
    depth_m: np.ndarray
    present: np.ndarray
    presence_weight: np.ndarray
    image_size: tuple[int, int]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"images": self.images, "centres_px": self.centres_px, "depth_m": self.depth_m, "present": self.present,
                "presence_weight": self.presence_weight, "image_size": np.asarray(self.image_size)}  # fmt: skip

    @classmethod
    def from_arrays(cls, arrays) -> DetectorDataset:
        size = tuple(int(v) for v in arrays["image_size"])
        return cls(arrays["images"], arrays["centres_px"], arrays["depth_m"], arrays["present"], arrays["presence_weight"], size)

    @classmethod
    def from_frames(cls, frames: list[LabelledFrame]) -> DetectorDataset:
        images = np.stack([preprocess(image) for f in frames for image in f.images])
        height, width = frames[0].images.shape[-2:]
        return cls(
            images=images,
            centres_px=np.concatenate([f.centres_px for f in frames]).astype(np.float32),
            depth_m=np.concatenate([f.depth_m for f in frames]).astype(np.float32),
            present=np.concatenate([f.present for f in frames]),
            presence_weight=np.concatenate([f.presence_weight for f in frames]).astype(np.float32),
            image_size=(int(width), int(height)),
        )


def build_dataset(
    hand_model: HandModel, seeds: list[int], frames_per_sequence: int, progress: Callable[[int, int], None] | None = None
) -> DetectorDataset:
    """Render and downscale ``frames_per_sequence`` frames (all views) of each sequence seed."""
    frames: list[LabelledFrame] = []
    for done, seed in enumerate(seeds):
        frames += render_labelled_frames(hand_model, seed, frames_per_sequence)
        if progress is not None:
            progress(done + 1, len(seeds))
    return DetectorDataset.from_frames(frames)
