"""The synthetic headset: camera models, layout, field of view, stereo overlap, crop rolls."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from umetrack.camera.models import Camera
from umetrack.crop import make_crop_camera
from umetrack.geometry import rigidity_error, transform_points
from umetrack.synth.rig import IMAGE_HEIGHT, IMAGE_WIDTH, headset_rig, mount_rotation
from umetrack.synth.scenario import generate_sequence, sequence_visibility


def _optical_axes(rig) -> torch.Tensor:
    return rig.T_device_from_camera[:, :3, 2]


def test_rig_has_four_quest_like_fisheye_cameras():
    rig = headset_rig()
    assert rig.num_views == 4
    assert [c.label for c in rig.cameras] == ["front-left", "front-right", "side-left", "side-right"]
    assert len(rig.camera_angles_deg) == 4
    for camera in rig.cameras:
        model = camera.model
        assert model.kind == "fisheye624"
        assert (model.width, model.height) == (IMAGE_WIDTH, IMAGE_HEIGHT) == (640, 480)
        assert 240.0 <= model.fx == model.fy <= 280.0
        assert abs(model.cx - (IMAGE_WIDTH - 1) / 2) < 3.0 and abs(model.cy - (IMAGE_HEIGHT - 1) / 2) < 3.0
        assert max(abs(k) for k in model.distortion) < 0.05  # "small realistic k's"
        assert rigidity_error(camera.T_device_from_camera).item() < 1e-9
    assert rig.T_device_from_camera.shape == (4, 4, 4)


def test_device_frame_is_x_left_y_up_z_forward():
    """Front cameras look forward and down, left cameras sit on +x and look to +x, the pair is mirror-symmetric."""
    rig = headset_rig()
    axes, positions = _optical_axes(rig), rig.T_device_from_camera[:, :3, 3]
    assert (axes[:, 2] > 0).all(), "every camera looks forward (or sideways-forward)"
    assert (axes[:, 1] < -0.3).all(), "every camera looks down"
    assert positions[0, 0] > 0 and axes[0, 0] > 0 and positions[2, 0] > 0 and axes[2, 0] > 0.8
    assert positions[1, 0] < 0 and axes[1, 0] < 0 and positions[3, 0] < 0 and axes[3, 0] < -0.8
    mirror = torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(axes[1], axes[0] * mirror)
    torch.testing.assert_close(axes[3], axes[2] * mirror)
    # Zero roll keeps the image x axis horizontal (device y component 0) and image "down" pointing down.
    R = mount_rotation(20.0, 35.0)
    assert abs(R[1, 0].item()) < 1e-12 and R[1, 1].item() < 0
    torch.testing.assert_close(
        R[:, 2], torch.tensor([math.sin(math.radians(20)) * math.cos(math.radians(35)), -math.sin(math.radians(35)),
                               math.cos(math.radians(20)) * math.cos(math.radians(35))], dtype=torch.float64),
    )  # fmt: skip


def test_cameras_have_a_wide_field_of_view():
    """Horizontal FOV >= 150 deg and vertical >= 100 deg, measured by unprojecting the image edges."""
    for camera in headset_rig().cameras:
        model = camera.model
        edges = torch.tensor(
            [[0.0, model.cy], [model.width - 1.0, model.cy], [model.cx, 0.0], [model.cx, model.height - 1.0]],
            dtype=torch.float64,
        )
        rays, valid = model.unproject(edges)
        assert valid.all()
        horizontal = math.degrees(math.acos(float(rays[0] @ rays[1])))
        vertical = math.degrees(math.acos(float(rays[2] @ rays[3])))
        assert horizontal >= 150.0, (camera.label, horizontal)
        assert vertical >= 100.0, (camera.label, vertical)


def _grid(x, y, z) -> torch.Tensor:
    """(P, 3) float64 points of the grid x * y * z (device frame, metres)."""
    axes = [torch.as_tensor(np.asarray(v, dtype=np.float64)) for v in (x, y, z)]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)


def test_front_pair_overlaps_where_the_hands_are_and_side_cameras_extend_coverage():
    rig = headset_rig()
    cameras = [Camera(c.model, c.T_device_from_camera, c.label) for c in rig.cameras]
    # Where hands work: 0.2-0.5 m ahead, 0.1-0.5 m below the eyes, up to 0.3 m to either side.
    front = _grid(np.linspace(-0.3, 0.3, 7), np.linspace(-0.5, -0.1, 5), np.linspace(0.2, 0.5, 4))
    both = cameras[0].visible(front) & cameras[1].visible(front)
    assert both.float().mean() > 0.95
    # Around the head at arm's length: the side cameras widen the horizontal coverage by ~50 deg a side.
    def widest_azimuth_deg(seen: torch.Tensor, azimuth: np.ndarray) -> float:
        return float(np.degrees(np.abs(azimuth[seen.numpy()])).max())

    for elevation_deg, front_reach, all_reach in ((0, 80, 140), (-30, 110, 160)):
        azimuth = np.radians(np.arange(-180, 181, 10))
        elevation = math.radians(elevation_deg)
        directions = np.stack([math.cos(elevation) * np.sin(azimuth), np.full_like(azimuth, math.sin(elevation)),
                               math.cos(elevation) * np.cos(azimuth)], -1)  # fmt: skip
        seen = torch.stack([camera.visible(torch.as_tensor(0.6 * directions)) for camera in cameras])
        assert widest_azimuth_deg(seen[0] | seen[1], azimuth) == pytest.approx(front_reach, abs=10)
        assert widest_azimuth_deg(seen.any(0), azimuth) >= front_reach + 30
        assert widest_azimuth_deg(seen.any(0), azimuth) == pytest.approx(all_reach, abs=10)


def test_num_views_selects_the_front_pair_first():
    pair = headset_rig(2)
    assert [c.label for c in pair.cameras] == ["front-left", "front-right"]
    with pytest.raises(ValueError):
        headset_rig(5)
    with pytest.raises(ValueError):
        headset_rig(0)


def test_camera_angles_make_hands_upright_in_crops(hand_model):
    """With the rig's crop rolls, the wrist -> middle knuckle direction points up-ish in the crops
    (right-hand crops are mirrored). Hands in front lean ~25-40 deg towards the image centre, which
    no roll removes for both hands at once (mirroring flips the lean), so the bound is loose."""
    sequence = generate_sequence(hand_model, 900, seed=3)
    points = sequence.landmarks()
    visible = sequence_visibility(sequence)
    # (view, hand) pairs that matter: front views see both hands, a side view mostly its own side.
    for view, hand in ((0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (3, 1)):
        frames = torch.nonzero(visible[:, view, hand] >= 19)[:, 0]
        assert len(frames) > 50, (view, hand)
        hand_points = points[frames, hand]
        crop = make_crop_camera(sequence.T_world_from_camera[frames, view], hand_points, hand,
                                sequence.rig.camera_angles_deg[view])  # fmt: skip
        eye = transform_points(crop.T_crop_from_world, hand_points)
        pixels = eye[..., :2] / eye[..., 2:3]
        direction = pixels[:, 11] - pixels[:, 5]  # image y points down
        angle = torch.atan2(direction[:, 0], -direction[:, 1])  # clockwise from crop "up"
        mean = math.degrees(math.atan2(angle.sin().mean(), angle.cos().mean()))
        assert abs(mean) < 45.0, (view, hand, mean)
        assert (torch.rad2deg(angle).abs() < 60.0).float().mean() > 0.6, (view, hand)
