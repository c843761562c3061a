"""A synthetic sequence as a ``Recording`` whose frames are rendered on demand.

Every frame's images are a pure function of (seed, frame): the scene (environment, skin, lights)
and the sensor are drawn once per recording from the seed; exposure drifts smoothly over time
like an auto-exposure loop; the sensor noise of each (frame, view) has its own seed. So the same
recording can be played in the app, streamed as a simulated live headset, or written to the
UmeTrack raw layout, and all three show identical pixels.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from umetrack.hand.model import HandModel
from umetrack.recording.frames import FrameSource, Views, freeze
from umetrack.recording.model import HandTrajectory, PinchLabels, Recording
from umetrack.synth.render import Hands, Scene, Sensor, render_view
from umetrack.synth.scenario import SyntheticSequence, generate_sequence

EXPOSURE_DRIFT = 0.15
"""Peak relative gain change of the simulated auto-exposure over a recording."""


def _frame_seed(seed: int, frame: int, view: int) -> int:
    return (seed * 1_000_003 + frame * 31 + view) % (2**32)


class RenderedFrameSource(FrameSource):
    """Renders the views of a ``SyntheticSequence`` frame when it is first read (then LRU-cached)."""

    def __init__(self, sequence: SyntheticSequence, seed: int, cache_frames: int = 16):
        sizes = [(m.width, m.height) for m in sequence.camera_models]
        super().__init__(sequence.num_frames, sizes, cache_frames)
        self.sequence = sequence
        self.seed = int(seed)
        rng = np.random.default_rng([self.seed, 7])
        self.scene = Scene.random(int(rng.integers(2**31)))
        self.sensor = Sensor.sample(rng)
        periods = rng.uniform(4.0, 12.0, size=2) * 30.0
        phases = rng.uniform(0, 2 * np.pi, size=2)
        t = np.arange(sequence.num_frames)
        drift = 0.5 * (np.sin(2 * np.pi * t / periods[0] + phases[0]) + np.sin(2 * np.pi * t / periods[1] + phases[1]))
        self.gains = self.sensor.gain * np.exp(EXPOSURE_DRIFT * drift)

    def _decode(self, index: int) -> Views:
        s = self.sequence
        hands = Hands.posed(s.hand_model, s.joint_angles[index], s.T_world_from_wrist[index], (0, 1), s.elbow_positions[index])
        sensor = replace(self.sensor, gain=float(self.gains[index]))
        return tuple(
            freeze(render_view(camera, hands, self.scene, sensor, _frame_seed(self.seed, index, view)).image)
            for view, camera in enumerate(s.cameras(index))
        )


def synthetic_recording(hand_model: HandModel, num_frames: int, seed: int, num_views: int = 4, name: str | None = None) -> Recording:
    """A rendered synthetic recording with exact ground truth and pinch labels.

    Args:
        hand_model: the base (left) hand model; the subject's hand is it scaled by 0.85..1.15.
        num_frames: at 30 fps. seed: everything derives from it. num_views: 1..4 headset cameras.
    """
    sequence = generate_sequence(hand_model, num_frames, seed, num_views)
    return recording_from_sequence(sequence, seed, name or f"synthetic_{seed:06d}")


def recording_from_sequence(sequence: SyntheticSequence, seed: int, name: str) -> Recording:
    return Recording(
        name=name,
        timestamps_ns=np.asarray(sequence.timestamps_ns, dtype=np.int64),
        view_labels=tuple(camera.label for camera in sequence.rig.cameras),
        camera_models=sequence.camera_models,
        T_world_from_camera=sequence.T_world_from_camera.numpy(),
        headset_tracked=np.ones(sequence.num_frames, dtype=bool),
        frames=RenderedFrameSource(sequence, seed),
        camera_angles_deg=tuple(float(a) for a in sequence.rig.camera_angles_deg),
        hand_model=sequence.hand_model,
        gt=HandTrajectory(sequence.joint_angles.numpy(), sequence.T_world_from_wrist.numpy(), sequence.confidence.numpy()),
        pinch=PinchLabels(sequence.pinch.numpy().astype(bool)),
    )
