import numpy as np
import pytest
import torch

from umetrack.camera import Camera, CameraModel
from umetrack.crop import (
    CROP_SIZE,
    HAND_RATIO_IN_CROP,
    crop_pixel_grid,
    crop_pixels_to_source,
    crop_points,
    make_crop_camera,
    make_crop_cameras,
    source_pixels_to_crop,
    warp_image,
    warp_image_batch,
    warp_maps,
    warp_maps_batch,
)
from umetrack.errors import CropError
from umetrack.geometry import axis_angle_to_matrix, make_transform
from umetrack.hand import fk

# A UmeTrack-like headset view: 636x480 fisheye62, ~238 px focal length.
FISHEYE62 = CameraModel("fisheye62", 636, 480, 238.0, 238.5, 317.2, 240.6, (0.05, -0.03, 0.01, -0.002, 0.0005, -0.0003, 0.0004, -0.0001))


def _source_camera(rotvec=(0.2, -0.3, 0.1), position=(0.05, 0.02, -0.03)) -> Camera:
    R = axis_angle_to_matrix(torch.tensor(rotvec, dtype=torch.float64))
    return Camera(FISHEYE62, make_transform(R, torch.tensor(position, dtype=torch.float64)), "cam0")


def _hand_in_view(hand_model, camera: Camera, hand_index: int, offset=(0.08, 0.05, 0.35)):
    """A hand pose whose wrist sits ``offset`` metres from the camera in its eye frame."""
    model = hand_model.to(torch.float64)
    angles = model.neutral_angles.clone()
    R = axis_angle_to_matrix(torch.tensor([0.4, 1.2, -0.3], dtype=torch.float64))
    wrist_eye = make_transform(R, torch.tensor(offset, dtype=torch.float64))
    return model, angles, camera.T_world_from_camera @ wrist_eye


@pytest.mark.parametrize("hand_index", [0, 1])
@pytest.mark.parametrize("camera_angle", [0.0, 90.0, 180.0])
def test_crop_camera_frames_the_hand(hand_model, hand_index, camera_angle):
    camera = _source_camera()
    model, angles, wrist = _hand_in_view(hand_model, camera, hand_index)
    points = crop_points(model, angles, wrist, hand_index)
    assert points.shape == (63, 3)
    crop = make_crop_camera(camera.T_world_from_camera, points, hand_index, camera_angle)
    pixels = crop.project(points)
    # The farthest point sits exactly at 95 % of the half-size, on either axis.
    half = (CROP_SIZE - 1) / 2
    extent = (pixels - half).abs().max().item()
    assert extent == pytest.approx(HAND_RATIO_IN_CROP * half, rel=1e-9)
    # The bounding-box centre is on the optical axis.
    centre = 0.5 * (points.amin(0) + points.amax(0))
    torch.testing.assert_close(crop.project(centre[None])[0], torch.tensor([half, half], dtype=torch.float64))
    det = torch.linalg.det(crop.T_crop_from_world[:3, :3]).item()
    assert det == pytest.approx(-1.0 if hand_index == 1 else 1.0)


@pytest.mark.parametrize("hand_index", [0, 1])
def test_point_lands_on_same_crop_pixel_via_crop_camera_or_fisheye_warp(hand_model, hand_index):
    camera = _source_camera()
    model, angles, wrist = _hand_in_view(hand_model, camera, hand_index)
    crop = make_crop_camera(camera.T_world_from_camera, crop_points(model, angles, wrist, hand_index), hand_index, 90.0)
    vertices = fk.mesh_vertices(model, angles, wrist, hand_index)
    direct = crop.project(vertices)
    fisheye_pixels, valid = camera.project_world(vertices)
    assert valid.all()
    warped, warped_valid = source_pixels_to_crop(crop, camera, fisheye_pixels)
    assert warped_valid.all()
    assert (warped - direct).abs().max().item() < 1e-3
    back = crop_pixels_to_source(crop, camera, direct)
    assert (back - fisheye_pixels).abs().max().item() < 1e-3


def test_warped_image_puts_a_bright_dot_where_the_crop_camera_projects_it(hand_model):
    camera = _source_camera()
    model, angles, wrist = _hand_in_view(hand_model, camera, 0)
    crop = make_crop_camera(camera.T_world_from_camera, crop_points(model, angles, wrist, 0), 0, 0.0)
    tip = fk.landmarks(model, angles, wrist, 0)[1]
    uv, _ = camera.project_world(tip[None])
    image = np.zeros((480, 636), np.uint8)
    u, v = uv[0].tolist()
    yy, xx = np.mgrid[0:480, 0:636]
    image[:] = np.clip(255 * np.exp(-((xx - u) ** 2 + (yy - v) ** 2) / (2 * 1.5**2)), 0, 255).astype(np.uint8)
    crop_image = warp_image(image, crop, camera)
    assert crop_image.shape == (CROP_SIZE, CROP_SIZE) and crop_image.dtype == np.uint8
    weights = crop_image.astype(np.float64)
    peak = np.array([(weights * np.arange(CROP_SIZE)[None, :]).sum(), (weights * np.arange(CROP_SIZE)[:, None]).sum()]) / weights.sum()
    expected = crop.project(tip[None])[0].numpy()
    assert np.abs(peak - expected).max() < 0.5, (peak, expected)


def test_right_hand_crop_is_the_mirror_image_of_the_unmirrored_crop(hand_model):
    camera = _source_camera()
    model, angles, wrist = _hand_in_view(hand_model, camera, 1)
    points = crop_points(model, angles, wrist, 1)
    right = make_crop_camera(camera.T_world_from_camera, points, 1)
    unmirrored = make_crop_camera(camera.T_world_from_camera, points, 0)
    image = np.random.default_rng(0).integers(0, 255, (480, 636), dtype=np.uint8)
    difference = warp_image(image, right, camera).astype(int) - warp_image(image, unmirrored, camera)[:, ::-1].astype(int)
    assert np.abs(difference).max() <= 1  # float32 sampling maps: at most one grey level of rounding


def test_camera_angle_rolls_the_crop(hand_model):
    camera = _source_camera()
    model, angles, wrist = _hand_in_view(hand_model, camera, 0)
    points = crop_points(model, angles, wrist, 0)
    upright = make_crop_camera(camera.T_world_from_camera, points, 0, 0.0).project(points)
    rolled = make_crop_camera(camera.T_world_from_camera, points, 0, 90.0).project(points)
    c = (CROP_SIZE - 1) / 2
    # Rolling the camera by +90 deg about its optical axis turns image content by -90 deg.
    expected = torch.stack([upright[:, 1] - c, -(upright[:, 0] - c)], -1) + c
    torch.testing.assert_close(rolled, expected)


def test_pixels_outside_the_source_field_of_view_are_black(hand_model):
    camera = _source_camera()
    model, angles, wrist = _hand_in_view(hand_model, camera, 0, offset=(0.55, 0.0, 0.05))  # far to the side
    crop = make_crop_camera(camera.T_world_from_camera, crop_points(model, angles, wrist, 0), 0)
    source = crop_pixels_to_source(crop, camera, crop_pixel_grid(CROP_SIZE))
    outside = ~FISHEYE62.in_image(source)
    image = np.full((480, 636), 200, np.uint8)
    crop_image = warp_image(image, crop, camera).reshape(-1)
    assert outside.any()
    assert (crop_image[outside.numpy()] <= 100).all()  # bilinear at the border may blend one pixel


def test_points_behind_the_camera_raise(hand_model):
    camera = _source_camera(rotvec=(0.0, 0.0, 0.0), position=(0.0, 0.0, 0.0))
    model, angles, wrist = _hand_in_view(hand_model, camera, 0, offset=(0.0, 0.0, 0.05))
    with pytest.raises(CropError, match="behind"):
        make_crop_camera(camera.T_world_from_camera, crop_points(model, angles, wrist, 0), 0)


def test_interpolated_sampling_maps_match_dense_projection(hand_model):
    """warp_maps samples a coarse grid and interpolates; it must agree with projecting every pixel."""
    camera = _source_camera()
    model, angles, wrist = _hand_in_view(hand_model, camera, 1)
    crop = make_crop_camera(camera.T_world_from_camera, crop_points(model, angles, wrist, 1), 1, 90.0)
    map_x, map_y = warp_maps(crop, camera)
    dense = crop_pixels_to_source(crop, camera, crop_pixel_grid(CROP_SIZE)).reshape(CROP_SIZE, CROP_SIZE, 2).numpy()
    assert map_x.dtype == np.float32 and map_x.shape == (CROP_SIZE, CROP_SIZE)
    assert np.abs(map_x - dense[..., 0]).max() < 0.01 and np.abs(map_y - dense[..., 1]).max() < 0.01


def test_batched_crop_cameras_and_maps_equal_the_single_crop_functions(hand_model):
    """make_crop_cameras / warp_maps_batch over (hand, view) pairs in different cameras (one of them a
    crop that leaves the lens, so it is computed densely) give what the per-crop functions give."""
    pinhole = CameraModel("pinhole", 636, 480, 238.0, 238.0, 317.5, 239.5)
    cameras = [_source_camera(), _source_camera(rotvec=(-0.1, 0.4, 0.0), position=(-0.05, 0.0, 0.0))]
    cameras.append(Camera(pinhole, cameras[0].T_world_from_camera))  # another kind, and a hand across its image plane
    pairs = [(0, 0, (0.08, 0.05, 0.35), 0.0), (1, 1, (0.0, -0.05, 0.3), 90.0), (1, 2, (0.3, 0.0, 0.0), -45.0)]
    Ts, points, hands, rolls, singles, sources = [], [], [], [], [], []
    for hand, view, offset, roll in pairs:
        model, angles, wrist = _hand_in_view(hand_model, cameras[view], hand, offset)
        region = crop_points(model, angles, wrist, hand)
        singles.append(make_crop_camera(cameras[view].T_world_from_camera, region, hand, roll))
        Ts.append(cameras[view].T_world_from_camera)
        points.append(region)
        hands.append(hand)
        rolls.append(roll)
        sources.append(cameras[view])
    crops, ok = make_crop_cameras(torch.stack(Ts), torch.stack(points), torch.tensor(hands), torch.tensor(rolls, dtype=torch.float64))
    assert ok.all()
    for crop, single in zip(crops, singles):
        assert crop.hand_index == single.hand_index
        torch.testing.assert_close(crop.T_crop_from_world, single.T_crop_from_world, rtol=0, atol=1e-12)
        torch.testing.assert_close(crop.focal, single.focal, rtol=0, atol=1e-9)
    map_x, map_y = warp_maps_batch(crops, sources)
    assert map_x.shape == (3, CROP_SIZE, CROP_SIZE) and map_x.flags.c_contiguous
    for k, (crop, source) in enumerate(zip(singles, sources)):
        single_x, single_y = warp_maps(crop, source)
        assert np.abs(map_x[k] - single_x).max() < 1e-3 and np.abs(map_y[k] - single_y).max() < 1e-3
    assert (map_x[2] == -1).any()  # the crop that leaves the pinhole's half-space kept its dense "outside" marker
    image = np.random.default_rng(0).integers(0, 256, (480, 636), dtype=np.uint8)
    for crop_image, crop, source in zip(warp_image_batch([image] * 3, crops, sources), singles, sources):
        assert np.abs(crop_image.astype(int) - warp_image(image, crop, source).astype(int)).max() <= 1


def test_batched_crop_cameras_report_failures_per_pair(hand_model):
    camera = _source_camera(rotvec=(0.0, 0.0, 0.0), position=(0.0, 0.0, 0.0))
    good = crop_points(*_hand_in_view(hand_model, camera, 0), 0)
    behind = crop_points(*_hand_in_view(hand_model, camera, 0, offset=(0.0, 0.0, 0.05)), 0)
    T = camera.T_world_from_camera.expand(2, 4, 4)
    crops, ok = make_crop_cameras(T, torch.stack([good, behind]), torch.tensor([0, 0]), torch.zeros(2, dtype=torch.float64))
    assert ok.tolist() == [True, False] and crops[0] is not None and crops[1] is None


def test_empty_batches_warp_nothing():
    map_x, map_y = warp_maps_batch([], [])
    assert map_x.shape == map_y.shape == (0, CROP_SIZE, CROP_SIZE)
    assert warp_image_batch([], [], []) == []
