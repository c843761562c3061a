"""Camera models: exact formulas, round trips, OpenCV agreement, gradients, validity rules."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from umetrack.camera import Camera, CameraModel, CameraModelStack, DeviceCamera
from umetrack.errors import InvalidCameraError
from umetrack.geometry import axis_angle_to_matrix, make_transform

# Real HOT3D Quest 3 SLAM-left calibration (camera_models.json, stream 1201-1).
HOT3D_PARAMS = (
    504.5934753417969, 504.5934753417969, 638.3945922851562, 509.4228515625,
    0.043982941657304764, -0.0448598638176918, 0.01613209955394268, -0.010928832925856113,
    0.003512823488563299, -0.0005242147017270327, 0.00047754947445355356, -4.744782927446067e-05,
    0.0, 0.0, 0.0, 0.0,
)  # fmt: skip


def hot3d_model(thin_prism=(0.0, 0.0, 0.0, 0.0)) -> CameraModel:
    return CameraModel("fisheye624", 1280, 1024, *HOT3D_PARAMS[:4], HOT3D_PARAMS[4:12] + tuple(thin_prism))


def umetrack_like_model() -> CameraModel:
    """UmeTrack-style 636x480 fisheye62 (fx ~ 238, small k's); order k1 k2 k3 k4 p1 p2 k5 k6."""
    return CameraModel("fisheye62", 636, 480, 238.2, 238.6, 317.4, 240.8, (-0.0264, 0.0385, -0.0180, 0.0037, 1.2e-4, -3.5e-4, -1.5e-4, 2e-5))


MODELS = {
    "pinhole": CameraModel("pinhole", 640, 480, 300.0, 310.0, 319.5, 239.5),
    "opencv": CameraModel("opencv", 640, 480, 500.0, 505.0, 321.0, 238.0, (-0.28, 0.09, -0.01, 1e-3, -5e-4)),
    "rational": CameraModel("rational", 640, 480, 500.0, 505.0, 321.0, 238.0, (0.5, -0.1, 0.01, 1e-3, -5e-4, 0.8, -0.05, 0.02)),
    "fisheye62": umetrack_like_model(),
    "fisheye624": hot3d_model(),
    "fisheye624_thin_prism": hot3d_model((1e-3, -2e-4, -8e-4, 1e-4)),
    "oculus_fisheye": CameraModel("oculus_fisheye", 640, 480, 240.0, 241.0, 320.5, 239.0, (-0.01, 0.02, -0.005, 4e-4, 1e-4, -2e-4, 0.01, -1e-3)),
}
MIN_VALID_FRACTION = {"fisheye624": 0.9, "fisheye624_thin_prism": 0.9}  # fisheye corners lie outside the lens circle


def pixel_grid(model: CameraModel, step: float) -> torch.Tensor:
    v, u = torch.meshgrid(
        torch.arange(0.0, model.height, step, dtype=torch.float64),
        torch.arange(0.0, model.width, step, dtype=torch.float64),
        indexing="ij",
    )
    return torch.stack([u, v], -1).reshape(-1, 2)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_unproject_then_project_round_trip(name):
    model = MODELS[name]
    pixels = pixel_grid(model, 7.0)
    rays, valid = model.unproject(pixels)
    assert valid.float().mean() >= MIN_VALID_FRACTION.get(name, 1.0)
    assert torch.allclose(rays[valid].norm(dim=-1), torch.ones(()).double(), atol=1e-12)
    back, back_valid = model.project(rays)
    assert back_valid[valid].all()
    assert (back - pixels)[valid].norm(dim=-1).max() < 1e-3


@pytest.mark.parametrize("name", sorted(MODELS))
def test_project_then_unproject_gives_parallel_rays(name):
    model = MODELS[name]
    generator = torch.Generator().manual_seed(0)
    # stay clear of the fold at max_angle, where pixels barely move with the angle (ill-conditioned)
    angle = torch.rand(2000, generator=generator, dtype=torch.float64) * min(0.9 * model.max_angle, math.radians(80))
    azimuth = torch.rand(2000, generator=generator, dtype=torch.float64) * 2 * math.pi
    distance = 0.2 + torch.rand(2000, generator=generator, dtype=torch.float64)
    direction = torch.stack([angle.sin() * azimuth.cos(), angle.sin() * azimuth.sin(), angle.cos()], -1)
    points = direction * distance[:, None]
    pixels, valid = model.project(points)
    assert valid.all()
    rays, ray_valid = model.unproject(pixels)
    assert ray_valid.all()
    assert ((rays * direction).sum(-1) - 1.0).abs().max() < 1e-9


def test_pinhole_matches_intrinsic_matrix():
    model = MODELS["pinhole"]
    points = torch.tensor([[0.1, -0.2, 0.7], [-1.5, 0.3, 2.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    pixels, valid = model.project(points)
    homogeneous = points @ model.K.T
    assert valid.all()
    assert torch.allclose(pixels, homogeneous[:, :2] / homogeneous[:, 2:], rtol=0, atol=1e-12)
    rays, _ = model.unproject(pixels)
    assert torch.allclose(rays, points / points.norm(dim=-1, keepdim=True), atol=1e-12)


def test_fisheye_without_distortion_is_equidistant():
    model = CameraModel("fisheye62", 636, 480, 238.0, 238.0, 317.5, 239.5, (0.0,) * 8)
    points = torch.tensor(
        [[0.0, 0.0, 1.0], [1e-9, 0.0, 1.0], [0.3, -0.4, 1.0], [1.0, 1.0, 0.0], [0.2, 0.1, -1.0], [-3.0, 2.0, 0.5]],
        dtype=torch.float64,
    )
    pixels, valid = model.project(points)
    normalised = (pixels - torch.tensor([model.cx, model.cy], dtype=torch.float64)) / model.fx
    theta = torch.atan2(points[:, :2].norm(dim=-1), points[:, 2])
    assert valid.all()  # no distortion: the whole sphere except the eye centre is usable (max_angle = pi)
    assert torch.allclose(normalised.norm(dim=-1), theta, rtol=1e-14, atol=1e-14)  # atol: pixel rounding
    # and the direction in the image is the direction of (x, y)
    off_axis = points[2:, :2]
    cosine = (normalised[2:] * off_axis).sum(-1) / (normalised[2:].norm(dim=-1) * off_axis.norm(dim=-1))
    assert torch.allclose(cosine, torch.ones(4, dtype=torch.float64))


def test_fisheye624_hand_computed_value():
    s1, s2, s3, s4 = 1e-3, -2e-4, -8e-4, 1e-4
    model = CameraModel("fisheye624", 1280, 1024, 500.0, 502.0, 640.0, 512.0, (0.04, -0.045, 0.016, -0.011, 0.0035, -5e-4, 4.8e-4, -4.7e-5, s1, s2, s3, s4))
    x, y, z = 0.3, -0.2, 0.8
    # cameras.md §3, step by step
    r = math.hypot(x, y)
    theta = math.atan2(r, z)
    u, v = x * theta / r, y * theta / r
    rho2 = u * u + v * v
    k = (0.04, -0.045, 0.016, -0.011, 0.0035, -5e-4)
    radial = 1 + sum(ki * rho2 ** (i + 1) for i, ki in enumerate(k))
    xr, yr = radial * u, radial * v
    sq = xr * xr + yr * yr
    p1, p2 = 4.8e-4, -4.7e-5
    xd = xr + 2 * p2 * xr * yr + p1 * (sq + 2 * xr * xr) + s1 * sq + s2 * sq * sq
    yd = yr + 2 * p1 * xr * yr + p2 * (sq + 2 * yr * yr) + s3 * sq + s4 * sq * sq
    expected = (500.0 * xd + 640.0, 502.0 * yd + 512.0)
    pixel, valid = model.project(torch.tensor([x, y, z], dtype=torch.float64))
    assert valid
    assert pixel.tolist() == pytest.approx(expected, abs=1e-9)
    assert pixel.tolist() == pytest.approx((817.3759030445, 393.2885622147), abs=1e-6)  # frozen value


def _cv2_project(points: np.ndarray, K: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    pixels, _ = cv2.projectPoints(points.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), K, coefficients)
    return pixels.reshape(-1, 2)


def _frustum_points(count: int = 500) -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.stack([rng.uniform(-0.5, 0.5, count), rng.uniform(-0.4, 0.4, count), rng.uniform(0.6, 2.0, count)], -1)


def test_opencv_model_matches_cv2():
    model = MODELS["opencv"]
    k1, k2, k3, p1, p2 = model.distortion
    points = _frustum_points()
    expected = _cv2_project(points, model.K.numpy(), np.array([k1, k2, p1, p2, k3]))
    pixels, valid = model.project(torch.as_tensor(points))
    assert valid.all()
    assert np.abs(pixels.numpy() - expected).max() < 1e-6


def test_rational_model_matches_cv2():
    model = MODELS["rational"]
    k1, k2, k3, p1, p2, k4, k5, k6 = model.distortion
    points = _frustum_points()
    expected = _cv2_project(points, model.K.numpy(), np.array([k1, k2, p1, p2, k3, k4, k5, k6]))
    pixels, valid = model.project(points)  # numpy in, torch out
    assert isinstance(pixels, torch.Tensor) and valid.all()
    assert np.abs(pixels.numpy() - expected).max() < 1e-6


def test_fisheye624_project_gradcheck_including_the_optical_axis():
    model = MODELS["fisheye624_thin_prism"]
    points = torch.tensor(
        [[0.0, 0.0, 0.5], [0.3, -0.2, 0.8], [-0.6, 0.4, 0.3], [1e-6, -2e-6, 1.0], [0.5, 0.5, -0.1]],
        dtype=torch.float64,
        requires_grad=True,
    )
    assert torch.autograd.gradcheck(lambda p: model.project(p)[0], (points,))


def test_fisheye_gradient_on_the_axis_is_finite_in_float32():
    model = MODELS["fisheye62"]
    point = torch.tensor([0.0, 0.0, 2.0], requires_grad=True)
    pixel, valid = model.project(point)
    pixel.sum().backward()
    assert valid and torch.isfinite(point.grad).all()
    # d u / d x = fx / z on the axis (every distortion term is at least quadratic there)
    assert point.grad[0].item() == pytest.approx(model.fx / 2.0, rel=1e-5)


def test_unproject_is_differentiable_wrt_pixels():
    model = MODELS["fisheye624_thin_prism"]
    pixels = torch.tensor([[700.0, 400.0], [100.0, 900.0], [638.4, 509.4]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: model.unproject(p)[0], (pixels,))


def test_validity_rules():
    pinhole, fisheye, hot3d = MODELS["pinhole"], MODELS["fisheye62"], MODELS["fisheye624"]
    _, valid = pinhole.project(torch.tensor([[0.0, 0.0, 1.0], [0.1, 0.0, 0.0], [0.1, 0.0, -1.0], [0.0, 0.0, 1e-9]]))
    assert valid.tolist() == [True, False, False, False]
    # fisheye62 here never folds back (max_angle = pi): rays behind the camera project, except
    # straight behind, where the direction in the image is undefined
    behind = [math.sin(math.radians(120)), 0.0, math.cos(math.radians(120))]
    pixels, valid = fisheye.project(torch.tensor([[0.0, 0.0, 0.0], behind, [0.0, 0.0, -1.0]]))
    assert fisheye.max_angle == math.pi
    assert valid.tolist() == [False, True, False]
    assert torch.isfinite(pixels).all()
    inside, past = hot3d.max_angle - 0.01, hot3d.max_angle + 0.01
    _, valid = hot3d.project(torch.tensor([[math.sin(inside), 0.0, math.cos(inside)], [0.0, math.sin(past), math.cos(past)]]))
    assert valid.tolist() == [True, False]
    # Beyond the lens circle of the real HOT3D camera: the image corner has no ray.
    _, corner_valid = hot3d_model().unproject(torch.tensor([[0.0, 0.0], [638.0, 509.0]]))
    assert corner_valid.tolist() == [False, True]
    # The HOT3D radial map folds back just past 90 degrees.
    assert math.radians(85) < hot3d_model().max_angle < math.radians(95)


def test_in_image_uses_pixel_centres():
    model = MODELS["pinhole"]
    pixels = torch.tensor([[0.0, 0.0], [639.0, 479.0], [-0.01, 10.0], [639.01, 10.0], [10.0, 479.5], [319.5, 239.5]])
    assert model.in_image(pixels).tolist() == [True, True, False, False, False, True]


def test_batched_shapes_and_dtypes():
    model = MODELS["fisheye624"]
    points = torch.rand(2, 3, 5, 3) + torch.tensor([0.0, 0.0, 0.5])
    pixels, valid = model.project(points)
    assert pixels.shape == (2, 3, 5, 2) and pixels.dtype == torch.float32 and valid.shape == (2, 3, 5)
    rays, ray_valid = model.unproject(pixels)
    assert rays.shape == (2, 3, 5, 3) and rays.dtype == torch.float32 and ray_valid.shape == (2, 3, 5)
    assert torch.allclose(rays, points / points.norm(dim=-1, keepdim=True), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(fx=float("nan")), "fx is not finite"),
        (dict(fy=-1.0), "focal length fy must be positive"),
        (dict(width=0), "width must be a positive integer"),
        (dict(height=480.5), "height must be a positive integer"),
        (dict(distortion=(0.1,) * 7), "expected 8 distortion coefficients"),
        (dict(distortion=(0.0,) * 7 + (float("inf"),)), "k6 not finite"),
        (dict(kind="equirectangular"), "unknown camera kind"),
    ],
)
def test_invalid_models_are_rejected(kwargs, message):
    arguments = dict(kind="fisheye62", width=636, height=480, fx=238.0, fy=238.0, cx=317.5, cy=239.5, distortion=(0.0,) * 8)
    arguments.update(kwargs)
    with pytest.raises(InvalidCameraError, match=message):
        CameraModel(**arguments)


def test_scaled_and_cropped_models_follow_the_pixel_centre_convention():
    model = MODELS["fisheye624"]
    points = torch.tensor([[0.1, 0.2, 1.0], [-0.5, 0.1, 0.6]], dtype=torch.float64)
    pixels, _ = model.project(points)
    half = model.scaled(0.5)
    assert (half.width, half.height) == (640, 512)
    assert half.cx == pytest.approx((model.cx + 0.5) * 0.5 - 0.5)
    assert torch.allclose(half.project(points)[0], (pixels + 0.5) * 0.5 - 0.5, atol=1e-9)
    crop = model.cropped(100, 50, 800, 600)
    assert torch.allclose(crop.project(points)[0], pixels - torch.tensor([100.0, 50.0], dtype=torch.float64), atol=1e-9)
    with pytest.raises(InvalidCameraError):
        MODELS["pinhole"].scaled(0.33)


def _pose(rotation_vector, translation) -> torch.Tensor:
    rotation = axis_angle_to_matrix(torch.tensor(rotation_vector, dtype=torch.float64))
    return make_transform(rotation, torch.tensor(translation, dtype=torch.float64))


def test_camera_world_projection_and_visibility():
    T_world_from_camera = _pose([0.1, -0.3, 0.2], [0.5, 1.0, -0.2])
    camera = Camera(MODELS["fisheye62"], T_world_from_camera, "cam0")
    eye = torch.tensor([[0.0, 0.0, 1.0], [0.2, -0.1, 0.5], [0.0, 0.0, -1.0], [5.0, 0.0, 0.1]], dtype=torch.float64)
    world = eye @ T_world_from_camera[:3, :3].T + T_world_from_camera[:3, 3]
    assert torch.allclose(camera.world_to_eye(world), eye, atol=1e-12)
    assert torch.allclose(camera.T_camera_from_world @ T_world_from_camera, torch.eye(4, dtype=torch.float64), atol=1e-12)
    pixels, _ = camera.project_world(world)
    # Points in front only: the one on the optical axis behind the camera has no defined pixel (its
    # direction in the image, x/r and y/r at r = 0, comes from ~1e-17 rounding of the world round trip,
    # which differs between CPUs); it is reported not visible below.
    front = eye[:, 2] > 0
    assert torch.allclose(pixels[front], camera.model.project(eye)[0][front], atol=1e-9)
    # centre: visible; off-centre: visible; behind: not (z < 0); far to the side: off the image
    assert camera.visible(world).tolist() == [True, True, False, False]


def test_batched_camera_pose_broadcasts_against_points():
    poses = torch.stack([_pose([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]), _pose([0.0, 0.5, 0.0], [1.0, 0.0, 0.0])])
    camera = Camera(MODELS["pinhole"], poses)
    points = torch.rand(2, 7, 3, dtype=torch.float64)
    eye = camera.world_to_eye(points)
    assert eye.shape == (2, 7, 3)
    for i in range(2):
        assert torch.allclose(eye[i], Camera(MODELS["pinhole"], poses[i]).world_to_eye(points[i]), atol=1e-12)


def test_camera_rejects_bad_extrinsics():
    with pytest.raises(InvalidCameraError, match="not a rigid transform"):
        Camera(MODELS["pinhole"], torch.diag(torch.tensor([2.0, 1.0, 1.0, 1.0])), "cam")
    with pytest.raises(InvalidCameraError, match="non-finite"):
        Camera(MODELS["pinhole"], torch.full((4, 4), float("nan")))
    with pytest.raises(InvalidCameraError, match="expected"):
        Camera(MODELS["pinhole"], torch.eye(3))


def test_device_camera_in_world_composes_transforms():
    T_device_from_camera = _pose([0.0, 0.0, 0.3], [0.05, 0.0, 0.0])
    T_world_from_device = _pose([0.2, 0.1, 0.0], [1.0, 2.0, 3.0])
    camera = DeviceCamera("1201-1", "camera-slam-left", MODELS["fisheye624"], T_device_from_camera).in_world(T_world_from_device)
    assert torch.allclose(camera.T_world_from_camera, T_world_from_device @ T_device_from_camera)
    assert camera.label == "camera-slam-left"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_model_stack_projects_each_row_exactly_like_its_model(dtype):
    """CameraModelStack evaluates the same formulas with per-row coefficient tensors: bit-identical
    pixels and validity, mixed kinds included; Camera.stack sees world points the same way."""
    models = [
        CameraModel("fisheye624", 640, 480, 246.0, 246.0, 319.8, 240.6, (0.044, -0.0449, 0.0161, -0.0109, 0.0035, -0.0005, 0.0002, -0.0001, 0.0003, 0.0, -0.0002, 0.0)),
        CameraModel("fisheye624", 640, 480, 247.3, 247.3, 318.9, 238.7, (0.0428, -0.0437, 0.0158, -0.0107, 0.0034, -0.0005, -0.0002, 0.0002, -0.0002, 0.0, 0.0003, 0.0)),
        CameraModel("rational", 320, 240, 200.0, 201.0, 160.0, 120.0, (0.1, -0.05, 0.01, 0.001, -0.001, 0.02, 0.01, 0.001)),
        CameraModel("opencv", 320, 240, 150.0, 150.0, 159.5, 119.5, (-0.3, 0.0, 0.0, 0.001, 0.0)),  # folds at ~46 deg
    ]
    generator = torch.Generator().manual_seed(0)
    points = (torch.randn(len(models), 200, 3, generator=generator, dtype=torch.float64) * 0.3 + torch.tensor([0.0, 0.0, 0.2], dtype=torch.float64)).to(dtype)
    stack = CameraModelStack(tuple(models))
    pixels, valid = stack.project(points)
    inside = stack.in_image(pixels)
    for k, model in enumerate(models):
        expected, expected_valid = model.project(points[k])
        assert torch.equal(valid[k], expected_valid)
        assert torch.equal(pixels[k][expected_valid], expected[expected_valid])
        assert torch.equal(inside[k], model.in_image(expected))
    rng = torch.Generator().manual_seed(1)
    cameras = [Camera(m, make_transform(axis_angle_to_matrix(0.3 * torch.randn(3, generator=rng, dtype=torch.float64)), 0.1 * torch.randn(3, generator=rng, dtype=torch.float64))) for m in models]
    world = points[0]
    stacked = Camera.stack(cameras)
    assert torch.equal(stacked.visible(world), torch.stack([c.visible(world) for c in cameras]))
