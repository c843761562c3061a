"""Hand Tracking Challenge / HOT3D-clips tars: a tar built here reads back with its poses and cameras."""

from __future__ import annotations

import io
import json
import tarfile

import cv2
import numpy as np
import pytest
import torch

from umetrack.errors import FormatError
from umetrack.geometry import matrix_to_quaternion_wxyz
from umetrack.hand.io import hand_model_to_dict
from umetrack.recording import open_recording, read_challenge_tar

from ..conftest import moving_pattern, random_rigid

STREAMS = ("1201-2", "1201-1")  # deliberately unsorted in the JSON; views come out sorted
WIDTH, HEIGHT, FRAMES = 128, 96, 3
# Aria layout (cameras.md §4): f, cx, cy, k1..k6, p1, p2, s1..s4
PARAMS = [60.0, 63.5, 47.5, 0.3, -0.1, 0.02, 0.0, 0.0, 0.0, 1e-4, -2e-4, 1e-4, 0.0, 0.0, 0.0]


def _pose_dict(T: np.ndarray) -> dict:
    q = matrix_to_quaternion_wxyz(torch.as_tensor(T[:3, :3])).tolist()
    return {"quaternion_wxyz": q, "translation_xyz": T[:3, 3].tolist()}


def _calibration(stream: str) -> dict:
    return {
        "label": f"camera-slam-{'left' if stream.endswith('1') else 'right'}",
        "stream_id": stream,
        "serial_number": "0",
        "image_width": WIDTH,
        "image_height": HEIGHT,
        "projection_model_type": "CameraModelType.FISHEYE624",
        "projection_params": PARAMS,
        "T_device_from_camera": _pose_dict(np.eye(4)),
        "max_solid_angle": 1.2,
    }


class TarBuilder:
    def __init__(self):
        self.members: dict[str, bytes] = {}

    def json(self, name: str, document) -> None:
        self.members[name] = json.dumps(document).encode()

    def write(self, path) -> None:
        with tarfile.open(path, "w") as tar:
            for name, data in self.members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def clip(hand_model):
    """A 3-frame, 2-stream clip: frame 0 left hand only (20 angles, quaternion wrist), frame 1 both
    (right hand as a 4x4 wrist_xform), frame 2 right hand null."""
    rng = np.random.default_rng(1)
    T_cam = random_rigid(rng, (FRAMES, len(STREAMS)))
    wrists = random_rigid(rng, (FRAMES, 2))
    angles = rng.uniform(-0.2, 1.0, size=(FRAMES, 2, 22))
    angles[..., 20:] = 0.0
    images = moving_pattern(FRAMES, len(STREAMS), HEIGHT, WIDTH)
    builder = TarBuilder()
    for i in range(FRAMES):
        key = f"{i:06d}"
        builder.json(f"{key}.cameras.json", {s: {"calibration": _calibration(s), "T_world_from_camera": _pose_dict(T_cam[i, v])} for v, s in enumerate(STREAMS)})
        for v, stream in enumerate(STREAMS):
            builder.members[f"{key}.image_{stream}.jpg"] = cv2.imencode(".jpg", images[i, v], [cv2.IMWRITE_JPEG_QUALITY, 98])[1].tobytes()
        left = {"umetrack_pose": {"joint_angles": angles[i, 0, :20].tolist(), "T_world_from_wrist": _pose_dict(wrists[i, 0])}, "mano_pose": {"thetas": [0.0] * 15, "wrist_xform": [0.0] * 6}}
        right = {"umetrack_pose": {"joint_angles": angles[i, 1].tolist(), "wrist_xform": wrists[i, 1].tolist()}}
        builder.json(f"{key}.hands.json", [{"left": left}, {"left": left, "right": right}, {"left": None, "right": right}][i])
        builder.json(f"{key}.hand_crops.json", {"left": None, "right": None})  # ignored
    builder.json("__hand_shapes.json__", {"mano": [0.0] * 10, "umetrack": hand_model_to_dict(hand_model)})
    return builder, T_cam, wrists, angles, images


def test_tar_reads_back_poses_cameras_and_images(tmp_path, clip):
    builder, T_cam, wrists, angles, images = clip
    path = tmp_path / "subject_001_separate_hand_000000.tar"
    builder.write(path)
    with open_recording(path) as recording:
        assert recording.name == "subject_001_separate_hand_000000"
        assert recording.num_frames == FRAMES and recording.view_labels == ("1201-1", "1201-2")
        order = [STREAMS.index(s) for s in recording.view_labels]
        np.testing.assert_allclose(recording.T_world_from_camera, T_cam[:, order], atol=1e-9)
        np.testing.assert_array_equal(recording.timestamps_ns, [0, 33_333_333, 66_666_667])
        model = recording.camera_models[0]
        assert (model.kind, model.width, model.height, model.fx, model.cy) == ("fisheye624", WIDTH, HEIGHT, 60.0, 47.5)
        assert recording.headset_tracked.all() and recording.camera_angles_deg == (0.0, 0.0)
        np.testing.assert_array_equal(recording.gt.present, [[True, False], [True, True], [False, True]])
        expected_left = angles[0, 0].copy()
        expected_left[20:] = 0.0
        np.testing.assert_allclose(recording.gt_poses(0)[0].joint_angles.numpy(), expected_left, atol=1e-12)
        np.testing.assert_allclose(recording.gt_poses(0)[0].T_world_from_wrist.numpy(), wrists[0, 0], atol=1e-9)
        np.testing.assert_allclose(recording.gt_poses(2)[1].T_world_from_wrist.numpy(), wrists[2, 1], atol=1e-12)
        np.testing.assert_allclose(recording.gt_poses(1)[1].joint_angles.numpy(), angles[1, 1], atol=1e-12)
        cameras = recording.cameras(2)
        assert [c.label for c in cameras] == ["1201-1", "1201-2"]
        for view in (1, 0, 1):  # any order
            error = np.abs(recording.image(2, view).astype(int) - images[2, order[view]]).mean()
            assert error < 2.0, error
        if recording.hand_model is not None:
            assert recording.hand_model.num_vertices > 0


def test_test_split_without_hands_has_no_gt(tmp_path, clip):
    builder = clip[0]
    for name in [n for n in builder.members if n.endswith("hands.json") or n.startswith("__")]:
        del builder.members[name]
    builder.write(tmp_path / "pose_test.tar")
    with read_challenge_tar(tmp_path / "pose_test.tar") as recording:
        assert recording.gt is None and recording.hand_model is None and recording.gt_poses(0) == {}


@pytest.mark.parametrize(
    "damage, member, field",
    [
        (lambda m: m.pop("000001.image_1201-1.jpg"), None, "000001.image_1201-1.jpg"),
        (lambda m: m.pop("000002.cameras.json"), None, "000002.cameras.json"),
        (lambda m: m.__setitem__("000001.hands.json", b'{"left": {"umetrack_pose": {'), "000001.hands.json", ""),
        (lambda m: m.__setitem__("000001.hands.json", b'{"left": {"umetrack_pose": {"joint_angles": [0, 1]}}}'), "000001.hands.json", "left.umetrack_pose.joint_angles"),
        (lambda m: m.__setitem__("000000.hands.json", b'{"right": {"umetrack_pose": {"joint_angles": [0.0]}}}'), "000000.hands.json", "right.umetrack_pose.joint_angles"),
        (lambda m: m.__setitem__("000002.cameras.json", b'{"1201-1": {"calibration": {}}}'), "000002.cameras.json", "1201-1.calibration.projection_model_type"),
        (lambda m: m.__setitem__("__hand_shapes.json__", b'{"umetrack": {"hand_scale": 1}}'), "__hand_shapes.json__", "umetrack.joint_rotation_axes"),
    ],
)
def test_damaged_tar_members(tmp_path, clip, damage, member, field):
    builder = clip[0]
    damage(builder.members)
    path = tmp_path / "clip-000001.tar"
    builder.write(path)
    with pytest.raises(FormatError) as error:
        read_challenge_tar(path)
    assert error.value.source == (f"{path}:{member}" if member else str(path))
    assert error.value.field == field


def test_nan_and_non_unit_quaternions_in_cameras(tmp_path, clip):
    builder = clip[0]
    document = json.loads(builder.members["000001.cameras.json"])
    document["1201-1"]["T_world_from_camera"]["translation_xyz"][1] = float("nan")
    builder.json("000001.cameras.json", document)
    builder.write(tmp_path / "nan.tar")
    with pytest.raises(FormatError, match="NaN") as error:
        read_challenge_tar(tmp_path / "nan.tar")
    assert error.value.field == "1201-1.T_world_from_camera.translation_xyz"


def test_corrupt_image_fails_when_read_not_at_open(tmp_path, clip):
    builder = clip[0]
    builder.members["000001.image_1201-2.jpg"] = b"\xff\xd8 not really a jpeg"
    path = tmp_path / "bad_jpeg.tar"
    builder.write(path)
    with read_challenge_tar(path) as recording:
        recording.images(0)
        with pytest.raises(FormatError, match="decodable") as error:
            recording.images(1)
        assert error.value.source == f"{path}:000001.image_1201-2.jpg"


def test_not_a_tar(tmp_path):
    path = tmp_path / "broken.tar"
    path.write_bytes(b"\x00\x01" * 10 + b"nonsense" * 100)
    with pytest.raises(FormatError) as error:
        open_recording(path)
    assert error.value.source == str(path)
