"""Synthetic renderer: exact fisheye projection, hands where the landmarks are, background only,
determinism, crop fast path == fisheye-then-warp, mirrored right-hand crops, sensor noise, bad input."""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np
import pytest
import torch

import umetrack.synth.render as render
from umetrack.camera import Camera, CameraModel
from umetrack.crop import CropCamera, crop_points, make_crop_camera, warp_image
from umetrack.geometry import axis_angle_to_matrix, make_transform
from umetrack.hand import fk
from umetrack.synth.background import Environment, cube_directions
from umetrack.synth.render import (
    FOREARM_LABEL,
    Hands,
    Look,
    Scene,
    Sensor,
    forearm_mesh,
    gl_project_points,
    pixel_rays,
    render_crops,
    render_view,
)

# A 640x480 headset-like fisheye624 with all distortion terms, thin prism included.
FISHEYE624 = CameraModel(
    "fisheye624", 640, 480, 241.0, 240.5, 319.2, 240.3,
    (0.044, -0.045, 0.016, -0.011, 0.0035, -5e-4, 4.8e-4, -4.7e-5, 1e-3, -2e-4, -8e-4, 1e-4),
)  # fmt: skip
FISHEYE62 = CameraModel("fisheye62", 636, 480, 238.0, 238.5, 317.2, 240.6, (0.05, -0.03, 0.01, -0.002, 5e-4, -3e-4, 4e-4, -1e-4))
LOOK = Look(skin_albedo=0.6, ambient=0.2, key=0.5, key_direction=(0.3, -0.8, 0.5), flash=0.6, rim=0.5, background_gain=0.7)
NOISELESS = Sensor(gain=1.0, vignetting=0.3)
MIRROR_X = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))


def _camera(model: CameraModel = FISHEYE624) -> Camera:
    R = axis_angle_to_matrix(torch.tensor([0.2, -0.3, 0.1], dtype=torch.float64))
    return Camera(model, make_transform(R, torch.tensor([0.05, 0.02, -0.03], dtype=torch.float64)), "cam0")


def _two_hands(model, camera: Camera):
    """Joint angles (2, 22) and wrists (2, 4, 4) of a left and a right hand 35 cm in front of ``camera``."""
    model = model.to(torch.float64)
    R_left = axis_angle_to_matrix(torch.tensor([0.4, 1.2, -0.3], dtype=torch.float64))
    R_right = MIRROR_X @ R_left @ MIRROR_X  # the left pose mirrored in the camera's x
    wrist_left = make_transform(R_left, torch.tensor([-0.09, 0.06, 0.36], dtype=torch.float64))
    wrist_right = make_transform(R_right, torch.tensor([0.09, 0.06, 0.36], dtype=torch.float64))
    wrists = camera.T_world_from_camera @ torch.stack([wrist_left, wrist_right])
    angles = model.neutral_angles.expand(2, -1).clone()
    return angles, wrists


@pytest.fixture(scope="module")
def scene() -> Scene:
    return Scene(Environment.generate(3, face_size=128), LOOK)


@pytest.fixture(scope="module")
def flat_scene() -> Scene:
    """A uniform grey surrounding: any two renders of the same hands must agree everywhere."""
    return Scene(Environment(np.full((6, 8, 8), 0.5, np.float32), seed=0), LOOK)


@pytest.fixture(scope="module")
def posed(hand_model):
    camera = _camera()
    model = hand_model.to(torch.float64)
    angles, wrists = _two_hands(model, camera)
    return camera, model, angles, wrists, Hands.posed(model, angles, wrists, (0, 1))


def test_vertex_projection_matches_camera_model(posed):
    camera, model, angles, wrists, hands = posed
    for lens in (FISHEYE624, FISHEYE62):
        view_camera = Camera(lens, camera.T_world_from_camera)
        points = torch.from_numpy(hands.vertices.reshape(-1, 3)).to(torch.float64)
        expected, valid = view_camera.project_world(points)
        assert valid.all()
        error = np.abs(gl_project_points(view_camera, points.numpy()) - expected.numpy()).max()
        assert error < 0.01, f"{lens.kind}: GLSL projection off by {error:.4f} px"


def test_pixel_rays_reproject_onto_their_pixels():
    rays = pixel_rays(FISHEYE624)
    valid = rays[..., 3] > 0
    assert 0.85 < valid.mean() < 1.0  # the corners lie outside the image circle
    v, u = np.nonzero(valid)
    pixels, ok = FISHEYE624.project(torch.from_numpy(rays[v, u, :3]))
    error = np.linalg.norm(pixels.numpy() - np.stack([u, v], -1), axis=-1)
    # Interpolated between exact rays every 4 px; worst where the lens compresses near its fold.
    assert ok.all() and np.median(error) < 0.02 and np.percentile(error, 99) < 0.2 and error.max() < 1.0


def test_landmarks_fall_on_their_rendered_hand(posed, scene):
    camera, model, angles, wrists, hands = posed
    view = render_view(camera, hands, scene, NOISELESS, seed=0)
    empty = render_view(camera, Hands(np.zeros((0, 1, 3)), np.zeros((0, 0, 3), np.int32), ()), scene, NOISELESS, seed=0)
    assert view.image.shape == view.mask.shape == (480, 640) and view.image.dtype == np.uint8
    for hand_index in (0, 1):
        landmarks = fk.landmarks(model, angles[hand_index], wrists[hand_index], hand_index)
        pixels, valid = camera.project_world(landmarks)
        assert valid.all()
        u, v = np.rint(pixels.numpy()).astype(int).T
        labels = view.mask[v, u]
        # Landmarks are joint centres inside the hand: their own hand covers them unless the
        # other hand or a forearm passes in front.
        assert (labels == hand_index + 1).mean() >= 0.8, labels
        assert np.isin(labels, (1, 2, FOREARM_LABEL)).all(), labels
        changed = np.abs(view.image[v, u].astype(int) - empty.image[v, u].astype(int))
        assert np.median(changed) > 5


def test_visible_skin_faces_the_camera(posed, flat_scene):
    """With only the camera's illuminator, front faces are lit: culling keeps the outward faces."""
    camera, _, _, _, hands = posed
    flash_only = Scene(flat_scene.environment, Look(0.6, 0.0, 0.0, (0.0, 0.0, 1.0), flash=1.0, rim=0.0, background_gain=0.0))
    view = render_view(camera, hands, flash_only, Sensor(), seed=0)
    hand = view.mask == 1
    assert hand.sum() > 2000
    assert np.median(view.image[hand]) > 60  # back faces would receive no flash light: black


def test_forearm_is_an_outward_tube_attached_to_the_mesh(hand_model, posed, flat_scene):
    forearm = forearm_mesh(hand_model)
    vertices, faces = forearm.vertices, forearm.faces
    assert faces.max() == len(vertices) - 1
    normals = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    radial = vertices[faces[:, 0]] - forearm.pivot
    radial[:, 0] = 0.0
    side = np.abs(normals[:, 0]) < 0.5 * np.linalg.norm(normals, axis=1)
    assert (np.einsum("ij,ij->i", normals[side], radial[side]) > 0).all()
    assert (normals[~side, 0] < 0).all()  # the elbow cap faces away from the hand
    assert forearm.back.min() < 0  # starts inside the hand mesh: no gap at the wrist
    camera, model, angles, wrists, hands = posed
    assert hands.forearm_vertices == len(vertices)
    assert (render_view(camera, hands, flat_scene, NOISELESS, 0).mask == FOREARM_LABEL).any()


def test_forearms_reach_the_elbows(posed):
    camera, model, angles, wrists, straight = posed
    elbows = torch.tensor(straight.vertices[:, -1], dtype=torch.float64)  # the straight arms' cap centres
    elbows = elbows + torch.tensor([[0.0, 0.08, -0.05], [0.03, -0.06, 0.02]], dtype=torch.float64)
    bent = Hands.posed(model, angles, wrists, (0, 1), elbow_positions=elbows)
    np.testing.assert_allclose(bent.vertices[:, -1], elbows.numpy(), atol=1e-5)  # the cap centre is the elbow
    hand_and_inner_ring = model.num_vertices + 16
    np.testing.assert_allclose(bent.vertices[:, :hand_and_inner_ring], straight.vertices[:, :hand_and_inner_ring], atol=1e-6)
    with pytest.raises(ValueError, match="elbow_positions"):
        Hands.posed(model, angles, wrists, (0, 1), elbow_positions=elbows[:1])


def _smooth_radiance(directions: np.ndarray) -> np.ndarray:
    """A surrounding that tells every axis and sign apart and survives texture filtering exactly."""
    return 0.5 + 0.2 * directions[..., 0] + 0.1 * directions[..., 1] - 0.15 * directions[..., 2]


def test_empty_scene_renders_only_the_background():
    camera = _camera()
    scene = Scene(Environment(_smooth_radiance(cube_directions(64)), seed=0), LOOK)
    no_hands = Hands(np.zeros((0, 10, 3)), np.zeros((0, 0, 3), np.int32), ())
    sensor = Sensor(gain=1.3, vignetting=0.4)
    view = render_view(camera, no_hands, scene, sensor, seed=0)
    assert not view.mask.any()
    rays = pixel_rays(FISHEYE624)
    valid = rays[..., 3] > 0
    assert (view.image[~valid] == 0).all()  # outside the lens's image circle
    world = rays[..., :3] @ camera.T_world_from_camera[:3, :3].numpy().T
    falloff = 1.0 - sensor.vignetting * (1.0 - rays[..., 2])
    expected = 255 * sensor.gain * scene.look.background_gain * _smooth_radiance(world) * falloff
    difference = np.abs(view.image[valid].astype(float) - expected[valid])
    assert difference.mean() < 0.6 and difference.max() < 2.0


def test_cube_map_faces_follow_the_opengl_layout():
    directions = cube_directions(4)
    # +x face, row 1 (t = -0.25), column 2 (s = 0.25): direction (1, -t, -s).
    assert np.allclose(directions[0, 1, 2], np.array([1.0, 0.25, -0.25]) / np.linalg.norm([1.0, 0.25, 0.25]))
    faces = np.arange(6 * 16, dtype=np.float32).reshape(6, 4, 4)
    np.testing.assert_array_equal(Environment(faces, 0).lookup(directions), faces)


def test_same_seed_gives_identical_bytes(posed, scene):
    camera, _, _, _, hands = posed
    sensor = Sensor(gain=1.1, read_noise=3.0, shot_noise=0.3, vignetting=0.3)
    first = render_view(camera, hands, scene, sensor, seed=42)
    second = render_view(camera, hands, scene, sensor, seed=42)
    other = render_view(camera, hands, scene, sensor, seed=43)
    assert first.image.tobytes() == second.image.tobytes()
    assert first.image.tobytes() != other.image.tobytes()
    np.testing.assert_array_equal(first.mask, other.mask)
    again = Scene.random(5)
    assert np.array_equal(again.environment.faces, Scene.random(5).environment.faces) and again.look == Scene.random(5).look


def test_sensor_noise_has_the_requested_statistics(flat_scene):
    camera = _camera()
    no_hands = Hands(np.zeros((0, 1, 3)), np.zeros((0, 0, 3), np.int32), ())
    level = 255 * 0.5 * flat_scene.look.background_gain  # 89.25: rounds to 89 without noise
    clean = render_view(camera, no_hands, flat_scene, Sensor(gain=1.0), seed=0).image.astype(float)
    noisy = render_view(camera, no_hands, flat_scene, Sensor(gain=1.0, read_noise=4.0, shot_noise=0.2), seed=1).image.astype(float)
    valid = clean > 0
    assert (clean[valid] == round(level)).all()
    assert np.std(noisy[valid]) == pytest.approx(np.sqrt(4.0**2 + 0.2 * level), rel=0.05)
    assert np.mean(noisy[valid]) == pytest.approx(level, abs=0.1)  # unbiased: rounding is dithered away


@pytest.mark.parametrize("hand_index", [0, 1])
def test_crop_fast_path_matches_fisheye_then_warp(posed, scene, hand_index):
    camera, model, angles, wrists, hands = posed
    crop = make_crop_camera(camera.T_world_from_camera, crop_points(model, angles[hand_index], wrists[hand_index], hand_index), hand_index)
    view = render_view(camera, hands, scene, NOISELESS, seed=0)
    warped = warp_image(view.image, crop, camera).astype(float)
    on_hand = warp_image(view.mask, crop, camera) > 0
    batch = CropCamera(crop.T_crop_from_world[None], crop.focal[None], crop.size, hand_index)
    frame = Hands(hands.vertices[None], hands.faces, hands.hand_indices, hands.forearm_vertices)
    fast = render_crops(batch, camera.model, camera.T_world_from_camera[None], frame, scene, NOISELESS, seed=0)
    assert fast.shape == (1, 96, 96) and fast.dtype == np.uint8
    difference = np.abs(fast[0].astype(float) - warped)
    assert on_hand.mean() > 0.3
    # Measured 2.0 (hand) and 1.1 (whole crop) grey levels: the warp resamples the 640x480 frame
    # bilinearly, the fast path rasterises at crop resolution; they differ only along edges.
    assert difference[on_hand].mean() < 4.0, difference[on_hand].mean()
    assert difference.mean() < 2.5


def test_crop_beyond_the_source_image_is_black_as_in_the_warp(hand_model, scene):
    """A hand at the edge of the view: the fast path blacks out what the fisheye never saw."""
    camera = _camera()
    model = hand_model.to(torch.float64)
    R = axis_angle_to_matrix(torch.tensor([0.4, 1.2, -0.3], dtype=torch.float64))
    angles = model.neutral_angles[None]
    low = torch.tensor([0.05, 0.22, 0.22], dtype=torch.float64)  # so low that the crop crosses the image edge
    wrist = camera.T_world_from_camera @ make_transform(R, low)
    hands = Hands.posed(model, angles, wrist[None], (0,))
    crop = make_crop_camera(camera.T_world_from_camera, crop_points(model, angles[0], wrist, 0), 0)
    warped = warp_image(render_view(camera, hands, scene, NOISELESS, seed=0).image, crop, camera).astype(float)
    batch = CropCamera(crop.T_crop_from_world[None], crop.focal[None], crop.size, 0)
    frame = Hands(hands.vertices[None], hands.faces, hands.hand_indices, hands.forearm_vertices)
    fast = render_crops(batch, camera.model, camera.T_world_from_camera[None], frame, scene, NOISELESS, seed=0)[0].astype(float)
    unseen = warped == 0
    assert 0.2 < unseen.mean() < 0.6
    assert np.median(fast[unseen]) == 0 and np.abs(fast - warped).mean() < 3.0


def test_right_hand_crop_shows_the_mirrored_left_model(posed, flat_scene):
    """Through its mirrored crop camera a right hand looks exactly like the left model posed as
    its mirror image, seen by the proper (unmirrored) camera."""
    camera, model, angles, wrists, _ = posed
    look = Look(0.6, 0.3, 0.0, (0.0, 0.0, 1.0), flash=0.8, rim=0.5, background_gain=0.7)  # no world-fixed light
    scene = Scene(flat_scene.environment, look)
    right = Hands.posed(model, angles[1:], wrists[1:], (1,))
    crop = make_crop_camera(camera.T_world_from_camera, crop_points(model, angles[1], wrists[1], 1), 1)
    assert torch.linalg.det(crop.T_crop_from_world[:3, :3]) < 0
    # The reflection of the world that the crop's mirror amounts to: S = E^-1 diag(-1,1,1) E.
    proper = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0], dtype=torch.float64)) @ crop.T_crop_from_world
    S = torch.linalg.inv(proper) @ torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0], dtype=torch.float64)) @ proper
    mirrored_wrist = S @ fk.left_hand_wrist(wrists[1], 1)  # a proper rigid transform: a left hand
    left = Hands.posed(model, angles[1:], mirrored_wrist[None], (0,))
    reflected = right.vertices[0, : model.num_vertices] @ S[:3, :3].numpy().T + S[:3, 3].numpy()
    np.testing.assert_allclose(left.vertices[0, : model.num_vertices], reflected, atol=1e-5)

    source = camera.T_world_from_camera[None]
    seen_right = render_crops(
        CropCamera(crop.T_crop_from_world[None], crop.focal[None], 96, 1), camera.model, source,
        Hands(right.vertices[None], right.faces, (1,), right.forearm_vertices), scene, Sensor(), 0,
    )  # fmt: skip
    seen_left = render_crops(
        CropCamera(proper[None], crop.focal[None], 96, 0), camera.model, source,
        Hands(left.vertices[None], left.faces, (0,), left.forearm_vertices), scene, Sensor(), 0,
    )  # fmt: skip
    difference = np.abs(seen_right.astype(int) - seen_left.astype(int))
    assert (seen_right != seen_right[0, 0, 0]).mean() > 0.3  # the hand fills the crop
    assert difference.mean() < 0.5 and np.percentile(difference, 99) <= 8


def test_crops_draw_the_hands_of_their_frame_in_any_batch_split(posed, scene, monkeypatch):
    camera, model, angles, wrists, hands = posed
    crop = make_crop_camera(camera.T_world_from_camera, crop_points(model, angles[0], wrists[0], 0), 0)
    nowhere = hands.vertices + np.float32(100.0)  # a frame whose hands are far away
    frames = Hands(np.stack([nowhere, hands.vertices]), hands.faces, hands.hand_indices, hands.forearm_vertices)
    crops = CropCamera(crop.T_crop_from_world.expand(5, 4, 4), crop.focal.expand(5), 96, 0)
    sources = camera.T_world_from_camera.expand(5, 4, 4)
    which = np.array([1, 0, 1, 1, 0])
    sensor = Sensor(read_noise=2.0)
    whole = render_crops(crops, camera.model, sources, frames, scene, sensor, 7, frames=which)
    monkeypatch.setattr(render, "MAX_CROPS_PER_DRAW", 2)
    split = render_crops(crops, camera.model, sources, frames, scene, sensor, 7, frames=which)
    # Noise is keyed by the crop's index in the batch, so only rasterisation at another atlas
    # position can move a few edge pixels by a grey level.
    assert np.abs(whole.astype(int) - split.astype(int)).max() <= 1 and (whole != split).mean() < 1e-3
    clean = render_crops(crops, camera.model, sources, frames, scene, Sensor(), 7, frames=which)
    assert (clean[0] == clean[2]).all() and (clean[1] == clean[4]).all()
    assert np.abs(clean[0].astype(int) - clean[1].astype(int)).mean() > 5  # hands vs background only


def _render_in_child(camera, hands, scene, queue) -> None:
    torch.set_num_threads(1)  # torch's OpenMP pool does not survive a fork either (its DataLoader does the same)
    queue.put(render_view(camera, hands, scene, NOISELESS, seed=0).image)


def test_renders_the_same_from_threads_and_forked_workers(posed, flat_scene):
    camera, _, _, _, hands = posed
    expected = render_view(camera, hands, flat_scene, NOISELESS, seed=0).image  # the parent renders first
    results = []
    threads = [threading.Thread(target=lambda: results.append(render_view(camera, hands, flat_scene, NOISELESS, seed=0).image)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3 and all((r == expected).all() for r in results)
    fork = multiprocessing.get_context("fork")
    queue = fork.Queue()
    child = fork.Process(target=_render_in_child, args=(camera, hands, flat_scene, queue))
    child.start()
    try:
        np.testing.assert_array_equal(queue.get(timeout=60), expected)
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
    np.testing.assert_array_equal(render_view(camera, hands, flat_scene, NOISELESS, seed=0).image, expected)


def test_bad_input_raises_clear_value_errors(posed, scene):
    camera, model, angles, wrists, hands = posed
    with pytest.raises(ValueError, match="NaN"):
        Hands(np.full((1, 3, 3), np.nan), np.zeros((1, 1, 3), np.int32), (0,))
    with pytest.raises(ValueError, match=r"\(\.\.\., H, V, 3\)"):
        Hands(np.zeros((10, 3)), np.zeros((1, 1, 3), np.int32), (0,))
    with pytest.raises(ValueError, match="faces"):
        Hands(np.zeros((1, 3, 3)), np.array([[[0, 1, 5]]]), (0,))
    with pytest.raises(ValueError, match="hand_indices"):
        Hands(np.zeros((1, 3, 3)), np.zeros((1, 1, 3), np.int32), (2,))
    with pytest.raises(ValueError, match="NaN"):
        Hands.posed(model, angles * float("nan"), wrists, (0, 1))
    with pytest.raises(ValueError, match="expected joint_angles"):
        Hands.posed(model, angles, wrists[:1], (0, 1))
    with pytest.raises(ValueError, match="fisheye"):
        render_view(Camera(CameraModel("pinhole", 64, 48, 50.0, 50.0, 31.5, 23.5), camera.T_world_from_camera), hands, scene, NOISELESS, 0)
    with pytest.raises(ValueError, match="unbatched"):
        render_view(camera, Hands(hands.vertices[None], hands.faces, (0, 1)), scene, NOISELESS, 0)
    with pytest.raises(ValueError, match="seed"):
        render_view(camera, hands, scene, NOISELESS, -1)
    crop = make_crop_camera(camera.T_world_from_camera, crop_points(model, angles[0], wrists[0], 0), 0)
    batch = CropCamera(crop.T_crop_from_world[None], crop.focal[None], 96, 0)
    frame = Hands(hands.vertices[None], hands.faces, (0, 1))
    source = camera.T_world_from_camera[None]
    with pytest.raises(ValueError, match="T_world_from_source"):
        render_crops(batch, camera.model, camera.T_world_from_camera, frame, scene, NOISELESS, 0)
    with pytest.raises(ValueError, match="source_models"):
        render_crops(batch, [camera.model] * 2, source, frame, scene, NOISELESS, 0)
    with pytest.raises(ValueError, match="frames"):
        render_crops(batch, camera.model, source, frame, scene, NOISELESS, 0, frames=[3])
    with pytest.raises(ValueError, match="NaN"):
        render_crops(CropCamera(crop.T_crop_from_world[None] * float("nan"), crop.focal[None]), camera.model, source, frame, scene, NOISELESS, 0)
    with pytest.raises(ValueError, match="Sensor.gain"):
        Sensor(gain=float("nan"))
    with pytest.raises(ValueError, match="Look.skin_albedo"):
        Look(1.5, 0.2, 0.5, (0.0, 0.0, 1.0), 0.5, 0.5, 0.5)
