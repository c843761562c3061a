"""Synthetic world for training and evaluation data: a Quest-like four-camera headset, the motion
of the user's body, head and hands, and exact ground truth (joint angles, wrist transforms, pinch
labels), all deterministic from a seed. The renderer turns a ``SyntheticSequence`` into images.
"""

from umetrack.synth.poses import KEY_POSES, KeyPose, PoseLibrary, Synergy, build_pose_library, synergy_angles
from umetrack.synth.rig import HeadsetRig, headset_rig
from umetrack.synth.scenario import (
    SyntheticSequence,
    generate_sequence,
    hand_landmarks,
    sequence_visibility,
    visible_landmark_counts,
)

__all__ = [
    "KEY_POSES",
    "HeadsetRig",
    "KeyPose",
    "PoseLibrary",
    "Synergy",
    "SyntheticSequence",
    "build_pose_library",
    "generate_sequence",
    "hand_landmarks",
    "headset_rig",
    "sequence_visibility",
    "synergy_angles",
    "visible_landmark_counts",
]
