"""The synthetic headset: four wide-FOV fisheye624 cameras in a Quest-like layout.

Device frame (the headset's, and the synthetic world's "body" frame, see ``motion.py``):
origin midway between the user's eyes, **+x to the user's left, +y up, +z forward** (the
direction the user looks). It is right-handed (x = y cross z) and is the OpenCV eye frame
(x right, y down, z forward) turned 180 degrees about the optical axis, so an identity
``T_world_from_device`` looks along world +z with world +y (the project's up) up.

Camera placement (device frame, metres; yaw turns the optical axis towards the camera's own side,
pitch tilts it below the headset's horizontal plane; every camera is mounted upright, image x
horizontal) and crop roll (``camera_angles_deg``, see ``_MOUNTS``):

=====  ===========  ========================  ======  =====  =========
index  label        position (x, y, z)        yaw     pitch  crop roll
=====  ===========  ========================  ======  =====  =========
0      front-left   ( 0.040, -0.030, 0.085)   +20     25     +5
1      front-right  (-0.040, -0.030, 0.085)   -20     25     -5
2      side-left    ( 0.090,  0.010, 0.055)   +75     25     +55
3      side-right   (-0.090,  0.010, 0.055)   -75     25     -55
=====  ===========  ========================  ======  =====  =========

The front pair looks 25 deg down and 20 deg outward: hands held in front of and below the face
(where a seated or standing user manipulates things, 0.2-0.5 m ahead and 0.1-0.5 m below the
eyes; typically ~20 deg below the headset's forward axis, because the head also bends towards
them) are in both views, near the image centres; at 30 deg below eye level the pair overlaps over
+-70 deg of azimuth. The side cameras look almost sideways (75 deg outward) and 25 deg down and
extend the horizontal coverage by ~50 deg on each side (+-110 -> +-160 deg at 30 deg below eye
level). The front pair comes first so that the tracker, which keeps the two lowest camera indices
among those that see a hand (perspective_crop.md §5), prefers the stereo pair.

Intrinsics: 640x480, fisheye624 with f = 245-247 px (horizontal FOV 154-156 deg, vertical 110 deg),
principal points within 2 px of the image centre, and radial coefficients of the size of real
Quest 3 SLAM lenses (HOT3D calibrations), which fold at ~90 deg from the axis: like real fisheye
frames, the image corners lie outside the lens's image circle. Small per-camera differences
stand in for unit-to-unit calibration spread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from umetrack.camera.models import CameraModel, DeviceCamera
from umetrack.geometry import make_transform

IMAGE_WIDTH, IMAGE_HEIGHT = 640, 480
NUM_RIG_CAMERAS = 4

_OPENCV_TO_DEVICE = torch.diag(torch.tensor([-1.0, -1.0, 1.0], dtype=torch.float64))
"""Camera axes (x right, y down, z forward) in device coordinates (x left, y up, z forward)."""


@dataclass(frozen=True)
class _Mount:
    label: str
    position_m: tuple[float, float, float]
    yaw_deg: float
    pitch_down_deg: float
    camera_angle_deg: float
    focal_px: float
    principal_point_px: tuple[float, float]
    distortion: tuple[float, ...]


# Crop roll per view (UmeTrack's ``camera_angles``). The crop camera is the physical one rolled by
# this angle about its optical axis, so crop "up" is the physical image direction (sin a, -cos a),
# a clockwise angle. Every camera sits above the hands, so a forearm enters a view from below and
# a hand's wrist -> knuckles direction points up-ish. In the front views both hands also lean
# ~30-40 deg towards the image centre; right-hand crops are mirrored, which flips the roll's
# effect for them, so a roll can only balance the two hands: +-5 deg leaves ~33 deg for both.
# The left side camera looks to the left, so image right is the user's forward, and a hand at the
# side points forward and up (up-right in that image): +55 deg; mirrored for the right side
# camera: -55 deg. The numbers are measured means over generated sequences
# (tests/synth/test_rig.py checks that hands appear upright-ish in the crops).
_MOUNTS = (
    _Mount("front-left", (0.040, -0.030, 0.085), 20.0, 25.0, 5.0, 246.0, (319.8, 240.6),
           (0.0440, -0.0449, 0.0161, -0.0109, 0.0035, -0.0005, 2.1e-4, -1.3e-4, 3.0e-4, 0.0, -2.0e-4, 0.0)),
    _Mount("front-right", (-0.040, -0.030, 0.085), -20.0, 25.0, -5.0, 247.3, (318.9, 238.7),
           (0.0428, -0.0437, 0.0158, -0.0107, 0.0034, -0.0005, -1.6e-4, 2.4e-4, -2.0e-4, 0.0, 3.0e-4, 0.0)),
    _Mount("side-left", (0.090, 0.010, 0.055), 75.0, 25.0, 55.0, 245.4, (320.9, 239.2),
           (0.0452, -0.0455, 0.0163, -0.0110, 0.0035, -0.0005, 3.2e-4, 1.1e-4, 1.0e-4, 0.0, 2.0e-4, 0.0)),
    _Mount("side-right", (-0.090, 0.010, 0.055), -75.0, 25.0, -55.0, 246.8, (318.4, 240.1),
           (0.0436, -0.0441, 0.0159, -0.0108, 0.0035, -0.0005, -2.7e-4, -1.9e-4, -3.0e-4, 0.0, -1.0e-4, 0.0)),
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class HeadsetRig:
    """The headset's cameras and the crop roll of each view.

    Attributes:
        cameras: (V,) cameras with ``T_device_from_camera`` in the device frame above.
        camera_angles_deg: (V,) in-plane roll of each view's crop camera, degrees.
    """

    cameras: tuple[DeviceCamera, ...]
    camera_angles_deg: tuple[float, ...]

    @property
    def num_views(self) -> int:
        return len(self.cameras)

    @property
    def camera_models(self) -> tuple[CameraModel, ...]:
        return tuple(camera.model for camera in self.cameras)

    @property
    def T_device_from_camera(self) -> torch.Tensor:
        """(V, 4, 4) float64 camera -> device, metres."""
        return torch.stack([camera.T_device_from_camera for camera in self.cameras])


def mount_rotation(yaw_deg: float, pitch_down_deg: float) -> torch.Tensor:
    """Camera -> device rotation of a camera looking ``pitch_down_deg`` below the horizontal and
    ``yaw_deg`` to the left (+x) of straight ahead, mounted upright: the image x axis stays
    horizontal and image "down" leans towards device -y.

    Returns:
        (3, 3) float64; column 2 is the optical axis in device coordinates:
        (sin(yaw) cos(pitch), -sin(pitch), cos(yaw) cos(pitch)).
    """
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_down_deg)
    c, s = math.cos(yaw), math.sin(yaw)
    about_y = torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], dtype=torch.float64)
    c, s = math.cos(pitch), math.sin(pitch)
    about_x = torch.tensor([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]], dtype=torch.float64)
    return about_y @ about_x @ _OPENCV_TO_DEVICE


def headset_rig(num_views: int = NUM_RIG_CAMERAS) -> HeadsetRig:
    """The synthetic headset (module docstring), or its first ``num_views`` cameras.

    Args:
        num_views: 1..4; 2 keeps the front stereo pair.
    Raises:
        ValueError: ``num_views`` outside 1..4.
    """
    if not 1 <= num_views <= NUM_RIG_CAMERAS:
        raise ValueError(f"num_views must be 1..{NUM_RIG_CAMERAS}, got {num_views}")
    cameras = []
    for mount in _MOUNTS[:num_views]:
        model = CameraModel(
            "fisheye624",
            IMAGE_WIDTH,
            IMAGE_HEIGHT,
            mount.focal_px,
            mount.focal_px,
            *mount.principal_point_px,
            mount.distortion,
        )
        rotation = mount_rotation(mount.yaw_deg, mount.pitch_down_deg)
        T = make_transform(rotation, torch.tensor(mount.position_m, dtype=torch.float64))
        cameras.append(DeviceCamera(stream_id=str(len(cameras)), label=mount.label, model=model, T_device_from_camera=T))
    return HeadsetRig(tuple(cameras), tuple(m.camera_angle_deg for m in _MOUNTS[:num_views]))
