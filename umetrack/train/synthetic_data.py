"""Training batches rendered from the synthetic world, deterministic per (seed, rank, step).

Each sample is one hand over T consecutive frames of a synthetic sequence, seen in 1 or 2 views
(the two lowest-index cameras that see >= 19 landmarks, as the tracker picks them; one view with
probability ``single_view_probability``). Crops are placed the way the tracker places them at
inference: from the *previous* frame's pose, perturbed like an imperfect prediction, which is the
paper's augmentation "perturb the virtual camera, not the image" (look-at noise, in-plane roll,
focal scale) in the form the tracker will actually produce. Images are rendered straight into the
crop cameras (``render_crops``), both hands drawn so the other hand occludes as it would.

Sequences and scenes are generated lazily and cached; a block of ``steps_per_pool`` steps draws
from the same few sequences so the cache stays warm, and later blocks move on to new sequences.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np
import torch

from umetrack.crop import CROP_SIZE, crop_points, make_crop_cameras
from umetrack.crop import CropCamera
from umetrack.geometry import axis_angle_to_matrix
from umetrack.hand.model import HandModel
from umetrack.synth.render import Hands, Scene, Sensor, render_crops
from umetrack.synth.scenario import SyntheticSequence, generate_sequence, sequence_visibility
from umetrack.train.batch import MAX_VIEWS, TrainBatch

MIN_VISIBLE_LANDMARKS = 19


@dataclass(frozen=True)
class SyntheticDataConfig:
    frames_per_sequence: int = 900
    sequences_per_pool: int = 4
    steps_per_pool: int = 40
    scenes: int = 16
    single_view_probability: float = 0.3
    lost_track_probability: float = 0.05
    """Chance that a step's memory is reset mid-sequence (as after a lost track)."""
    crop_translation_noise_m: float = 0.008
    crop_rotation_noise_rad: float = 0.08
    crop_angle_noise_rad: float = 0.08
    roll_noise_deg: float = 8.0
    crop_depth_noise: float = 0.08
    """Relative std of a slide of the crop pose along the ray from the reference camera: the
    tracker's typical error is a depth error (the hand predicted too near or too far), which moves
    the crop in the second view and zooms both; training on it teaches the network to correct it."""
    hand_ratio_range: tuple[float, float] = (0.7, 1.1)
    """Fraction of the crop the hand's extent fills (the tracker uses 0.95): below 1 the hand is
    smaller, above 1 it overflows, as after a depth error, so apparent size is read against focal."""


def with_crop_noise_scale(config: SyntheticDataConfig, scale: float) -> SyntheticDataConfig:
    """``config`` with every crop-placement perturbation (translation, depth, rotation, joint angles, roll) times ``scale``."""
    return replace(
        config,
        crop_translation_noise_m=config.crop_translation_noise_m * scale,
        crop_rotation_noise_rad=config.crop_rotation_noise_rad * scale,
        crop_angle_noise_rad=config.crop_angle_noise_rad * scale,
        roll_noise_deg=config.roll_noise_deg * scale,
        crop_depth_noise=config.crop_depth_noise * scale,
    )


class SyntheticBatchSource:
    """``BatchSource`` over an endless stream of synthetic sequences (see module docstring)."""

    def __init__(self, hand_model: HandModel, seed: int = 0, config: SyntheticDataConfig = SyntheticDataConfig()):
        self.hand_model = hand_model
        self.seed = int(seed)
        self.config = config
        self._sequences: OrderedDict[int, tuple[SyntheticSequence, np.ndarray]] = OrderedDict()
        self._scenes: dict[int, Scene] = {}

    @property
    def steps_per_block(self) -> int:
        """Consecutive steps that draw from the same cached sequences (see ``prefetched_batches``)."""
        return self.config.steps_per_pool

    # -- caches ----------------------------------------------------------------------------------

    def _sequence(self, index: int) -> tuple[SyntheticSequence, np.ndarray]:
        if index in self._sequences:
            self._sequences.move_to_end(index)
            return self._sequences[index]
        sequence = generate_sequence(self.hand_model, self.config.frames_per_sequence, seed=int(np.random.SeedSequence([self.seed, index]).generate_state(1)[0]))
        visible = sequence_visibility(sequence).numpy() >= MIN_VISIBLE_LANDMARKS  # (N, V, 2)
        self._sequences[index] = (sequence, visible)
        while len(self._sequences) > 2 * self.config.sequences_per_pool:
            self._sequences.popitem(last=False)
        return sequence, visible

    def _scene(self, index: int) -> Scene:
        key = index % self.config.scenes
        if key not in self._scenes:
            self._scenes[key] = Scene.random(self.seed * 7919 + key)
        return self._scenes[key]

    # -- sampling --------------------------------------------------------------------------------

    def batch(self, step: int, rank: int, sequences: int, length: int) -> TrainBatch:
        """All crops of the batch are drawn in one ``render_crops`` call (one scene and sensor per
        batch; the per-crop noise still differs): per-call GL overhead would otherwise dominate."""
        rng = np.random.default_rng([self.seed, rank, step])
        pool = step // self.config.steps_per_pool
        plans = [self._sample(rng, rank, pool, length) for _ in range(sequences)]
        vertices, faces, crops_T, crops_f, sources_T, models, rows = [], None, [], [], [], [], []
        for number, plan in enumerate(plans):
            vertices.append(plan.hands.vertices)
            faces = plan.hands.faces if faces is None else faces
            crops_T += plan.crops_T
            crops_f += plan.crops_f
            sources_T += plan.sources_T
            models += plan.source_models
            rows += [number * length + r for r in plan.rows]
        hands = Hands(np.concatenate(vertices), faces, (0, 1), plans[0].hands.forearm_vertices)
        images = np.zeros((sequences * length * MAX_VIEWS, CROP_SIZE, CROP_SIZE), np.uint8)
        slots = np.concatenate([plan.slots + number * length * MAX_VIEWS for number, plan in enumerate(plans)])
        # render_crops takes one hand index per call (right crops are mirrored): one call per side.
        sides = np.concatenate([[plan.hand] * len(plan.rows) for plan in plans])
        scene = self._scene(pool * 7 + rank)
        sensor = Sensor.sample(rng)
        for side in (0, 1):
            chosen = np.flatnonzero(sides == side)
            if len(chosen) == 0:
                continue
            batch_crops = CropCamera(torch.stack([crops_T[i] for i in chosen]), torch.stack([crops_f[i] for i in chosen]), CROP_SIZE, side)
            rendered = render_crops(batch_crops, [models[i] for i in chosen], torch.stack([sources_T[i] for i in chosen]), hands,
                                    scene, sensor, int(rng.integers(2**32)), np.asarray(rows)[chosen])  # fmt: skip
            images[slots[chosen]] = rendered
        images = images.reshape(sequences, length, MAX_VIEWS, CROP_SIZE, CROP_SIZE)
        stacked = {key: np.stack([plan.arrays[key] for plan in plans]) for key in plans[0].arrays}
        return TrainBatch.from_numpy({**stacked, "images": images})

    def _sample(self, rng: np.random.Generator, rank: int, pool: int, length: int) -> dict[str, np.ndarray]:
        cfg = self.config
        for _attempt in range(50):
            index = (rank * 1_000_003 + pool) * cfg.sequences_per_pool + int(rng.integers(cfg.sequences_per_pool))
            sequence, visible = self._sequence(index)
            hand = int(rng.integers(2))
            seen = visible[:, :, hand].any(1)
            # Windows of `length` frames where the hand is seen throughout (and a previous frame exists).
            window = np.convolve(seen.astype(int), np.ones(length, int), mode="valid") == length
            starts = np.flatnonzero(window[1:]) + 1
            if len(starts):
                start = int(rng.choice(starts))
                return self._plan_sample(rng, sequence, visible, hand, start, length)
        raise RuntimeError("no visible hand window found in 50 synthetic sequences (rig or motion broken?)")

    def _crop_pose(self, rng: np.random.Generator, sequence: SyntheticSequence, frame: int, hand: int, reference_centre: torch.Tensor):
        """The previous frame's pose, perturbed like a tracker's imperfect prediction (``reference_centre``:
        (3,) world position of the reference camera, the origin of the depth slide)."""
        cfg = self.config
        angles = sequence.joint_angles[frame - 1, hand].clone()
        angles[:20] += torch.from_numpy(rng.normal(0.0, cfg.crop_angle_noise_rad, 20))
        wrist = sequence.T_world_from_wrist[frame - 1, hand].clone()
        depth_factor = float(np.clip(1.0 + rng.normal(0.0, cfg.crop_depth_noise), 0.5, 1.5))
        wrist[:3, 3] = reference_centre + depth_factor * (wrist[:3, 3] - reference_centre)
        wrist[:3, 3] += torch.from_numpy(rng.normal(0.0, cfg.crop_translation_noise_m, 3))
        wrist[:3, :3] = axis_angle_to_matrix(torch.from_numpy(rng.normal(0.0, cfg.crop_rotation_noise_rad, 3))) @ wrist[:3, :3]
        return angles, wrist

    def _plan_sample(self, rng, sequence: SyntheticSequence, visible, hand: int, start: int, length: int) -> "_Plan":
        cfg = self.config
        model = sequence.hand_model.to(torch.float64)
        frames = np.arange(start, start + length)
        # Random draws first (frame by frame, views in order), then the geometry of all T frames and
        # their crops in two batched calls: per-crop calls were ~40 % of a batch's CPU time.
        frame_views, angles, wrists, crop_t, crop_v, rolls, ratios = [], [], [], [], [], [], []
        for t, frame in enumerate(frames):
            views = np.flatnonzero(visible[frame, :, hand])[:MAX_VIEWS]
            if len(views) == 2 and rng.random() < cfg.single_view_probability:
                views = views[:1]
            frame_angles, frame_wrist = self._crop_pose(rng, sequence, frame, hand, sequence.T_world_from_camera[frame, views[0], :3, 3])
            frame_views.append(views)
            angles.append(frame_angles)
            wrists.append(frame_wrist)
            for v in views:
                crop_t.append(t)
                crop_v.append(int(v))
                rolls.append(float(sequence.rig.camera_angles_deg[v]) + float(rng.normal(0.0, cfg.roll_noise_deg)))
                ratios.append(float(rng.uniform(*cfg.hand_ratio_range)))
        crop_t, crop_v = np.asarray(crop_t), np.asarray(crop_v)
        sources = sequence.T_world_from_camera[frames[crop_t], crop_v]
        points = crop_points(model, torch.stack(angles), torch.stack(wrists), hand)  # (T, 63, 3)
        crop_hands = torch.full((len(crop_t),), hand)
        rolls, ratios = torch.tensor(rolls, dtype=torch.float64), torch.tensor(ratios, dtype=torch.float64)
        cameras, ok = make_crop_cameras(sources, points[crop_t], crop_hands, rolls, hand_ratio=ratios)
        if not bool(ok.all()):
            # A perturbed pose can reach behind a camera; those frames fall back to their true pose.
            bad = sorted({int(t) for t in crop_t[~ok.numpy()]})
            truth = crop_points(model, sequence.joint_angles[frames[bad], hand], sequence.T_world_from_wrist[frames[bad], hand], hand)
            redo = np.flatnonzero(np.isin(crop_t, bad))
            truth_rows = [bad.index(int(t)) for t in crop_t[redo]]
            retried, retried_ok = make_crop_cameras(sources[redo], truth[truth_rows], crop_hands[redo], rolls[redo], hand_ratio=ratios[redo])
            if not bool(retried_ok.all()):  # pragma: no cover - the GT pose is visible in these views by construction
                raise RuntimeError("crop failed for a visible ground-truth pose")
            for k, camera in zip(redo, retried):
                cameras[k] = camera
        num_views = np.array([len(views) for views in frame_views], np.int64)
        focal = np.ones((length, MAX_VIEWS), np.float32)
        extrinsics = np.tile(np.eye(4, dtype=np.float32), (length, MAX_VIEWS, 1, 1))
        crops_T, crops_f, sources_T, source_models = [], [], [], []
        slot_in_frame = np.concatenate([np.arange(len(views)) for views in frame_views])
        for k, (t, v, crop) in enumerate(zip(crop_t, crop_v, cameras)):
            focal[t, slot_in_frame[k]] = float(crop.focal)
            extrinsics[t, slot_in_frame[k]] = crop.T_crop_from_world.numpy()
            crops_T.append(crop.T_crop_from_world)
            crops_f.append(crop.focal)
            sources_T.append(sources[k])
            source_models.append(sequence.camera_models[v])
        rows = crop_t.tolist()
        hands = Hands.posed(
            sequence.hand_model, sequence.joint_angles[frames], sequence.T_world_from_wrist[frames], (0, 1), sequence.elbow_positions[frames]
        )
        slots = np.concatenate([t * MAX_VIEWS + np.arange(num_views[t]) for t in range(length)])
        use_memory = rng.random(length) >= cfg.lost_track_probability
        use_memory[0] = False
        arrays = {
            "focal": focal,
            "extrinsics": extrinsics,
            "num_views": num_views,
            "hand_index": np.int64(hand),
            "joint_angles": sequence.joint_angles[frames, hand].numpy().astype(np.float32),
            "T_world_from_wrist": sequence.T_world_from_wrist[frames, hand].numpy().astype(np.float32),
            "hand_scale": np.float32(sequence.hand_scale),
            "pinch": sequence.pinch[frames, hand].numpy().astype(np.float32),
            "use_memory": use_memory,
        }
        return _Plan(hand, hands, crops_T, crops_f, sources_T, source_models, rows, slots, arrays)


@dataclass
class _Plan:
    """One sample before rendering: its crops (in (t, view) order), where they go, and its labels."""

    hand: int
    hands: Hands
    crops_T: list
    crops_f: list
    sources_T: list
    source_models: list
    rows: list
    slots: np.ndarray
    arrays: dict
