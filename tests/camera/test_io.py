"""Calibration readers/writer: real HOT3D sample, synthetic challenge / Aria / UmeTrack files, and
malformed input that must raise FormatError naming the file and the field."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import torch

from umetrack.camera import (
    Camera,
    CameraModel,
    camera_model_from_umetrack_dict,
    camera_model_to_umetrack_dict,
    pose_from_dict,
    read_aria_online_calibration,
    read_challenge_cameras,
    read_hot3d_camera_models,
)
from umetrack.errors import FormatError, InvalidCameraError
from umetrack.fileio import read_json
from umetrack.geometry import axis_angle_to_matrix, matrix_to_quaternion_wxyz, rigidity_error

ARIA_SLAM_PARAMS = [241.2, 318.4, 237.9, -0.026, 0.1, -0.08, 0.01, 0.004, -0.001, 4e-4, -2e-4, 1e-3, -3e-4, -7e-4, 2e-4]
ARIA_RGB_PARAMS = [610.9, 715.1, 716.6, 0.41, -0.48, -0.05, 1.5, -1.9, 0.7, 3e-4, 4e-4, -4e-4, 2e-5, -1e-3, 9e-5]


def write_json(path: Path, document) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def quaternion_wxyz(rotation_vector) -> list[float]:
    return matrix_to_quaternion_wxyz(axis_angle_to_matrix(torch.tensor(rotation_vector, dtype=torch.float64))).tolist()


# ---------------------------------------------------------------------------------------------
# HOT3D


def test_hot3d_sample(hot3d_dir):
    cameras = read_hot3d_camera_models(hot3d_dir / "camera_models.json")
    assert sorted(cameras) == ["1201-1", "1201-2"]
    left, right = cameras["1201-1"], cameras["1201-2"]
    assert (left.label, right.label) == ("camera-slam-left", "camera-slam-right")
    assert left.stream_id == "1201-1"
    model = left.model
    assert (model.kind, model.width, model.height) == ("fisheye624", 1280, 1024)
    assert (model.fx, model.fy, model.cx, model.cy) == pytest.approx((504.5934753417969, 504.5934753417969, 638.3945922851562, 509.4228515625))
    assert model.distortion[0] == pytest.approx(0.043982941657304764)
    assert model.distortion[6:8] == pytest.approx((0.00047754947445355356, -4.744782927446067e-05))
    assert model.distortion[8:] == (0.0, 0.0, 0.0, 0.0)
    for camera in (left, right):
        T = camera.T_device_from_camera
        assert T.shape == (4, 4) and T.dtype == torch.float64
        assert rigidity_error(T) < 1e-9
    assert left.T_device_from_camera[:3, 3].tolist() == pytest.approx([0.02676488494873047, -0.1293854675292969, -0.03089171028137207])
    # a Quest 3 stereo pair: a few centimetres apart, looking roughly the same way
    baseline = (left.T_device_from_camera[:3, 3] - right.T_device_from_camera[:3, 3]).norm()
    assert 0.03 < baseline < 0.15
    axis_left, axis_right = left.T_device_from_camera[:3, 2], right.T_device_from_camera[:3, 2]
    assert torch.dot(axis_left, axis_right) > math.cos(math.radians(60))
    # placed in the world with an identity device pose, the camera is where the calibration says
    placed = left.in_world(torch.eye(4, dtype=torch.float64))
    assert isinstance(placed, Camera) and torch.equal(placed.T_world_from_camera, left.T_device_from_camera)


def test_hot3d_errors_name_file_and_field(tmp_path, hot3d_dir):
    original = read_json(hot3d_dir / "camera_models.json")

    def broken(edit) -> Path:
        document = copy.deepcopy(original)
        edit(document)
        return write_json(tmp_path / "camera_models.json", document)

    cases = [
        # (15 values would be the Aria layout of FISHEYE624, so drop two)
        (lambda d: d[1].__setitem__("projectionParams", d[1]["projectionParams"][:14]), "[1].projectionParams", "expects 16 or 15 parameters, got 14"),
        (lambda d: d[0]["projectionParams"].__setitem__(4, float("nan")), "[0].projectionParams", "NaN"),
        (lambda d: d[0]["projectionParams"].__setitem__(0, -5.0), "[0].projectionParams", "must be positive"),
        (lambda d: d[0].pop("imageWidth"), "[0].imageWidth", "missing"),
        (lambda d: d[0].__setitem__("imageHeight", float("nan")), "[0].imageHeight", "expected an integer"),
        (lambda d: d[0]["T_Device_Camera"].pop("translation_xyz"), "[0].T_Device_Camera.translation_xyz", "missing"),
        (lambda d: d[0]["T_Device_Camera"].__setitem__("quaternion_wxyz", [1, 0, 0]), "[0].T_Device_Camera.quaternion_wxyz", "shape 4"),
        (lambda d: d[0]["T_Device_Camera"].__setitem__("quaternion_wxyz", [2, 0, 0, 0]), "[0].T_Device_Camera.quaternion_wxyz", "unit quaternion"),
        (lambda d: d[0].__setitem__("projectionModelType", "Equirect"), "[0].projectionModelType", "unsupported projection model"),
        (lambda d: d[1].__setitem__("stream_id", "1201-1"), "[1].stream_id", "duplicate"),
    ]
    for edit, field, reason in cases:
        path = broken(edit)
        with pytest.raises(FormatError) as info:
            read_hot3d_camera_models(path)
        message = str(info.value)
        assert str(path) in message and f"'{field}'" in message and reason in message, message


def test_truncated_and_missing_files(tmp_path):
    truncated = tmp_path / "camera_models.json"
    truncated.write_text('[{"stream_id": "1201-1", "projectionParams": [504.5, ', encoding="utf-8")
    with pytest.raises(FormatError, match="truncated JSON") as info:
        read_hot3d_camera_models(truncated)
    assert str(truncated) in str(info.value)
    with pytest.raises(FormatError, match="file not found"):
        read_challenge_cameras(tmp_path / "absent.cameras.json")
    with pytest.raises(FormatError, match="expected a JSON list"):
        read_hot3d_camera_models(write_json(tmp_path / "object.json", {"stream_id": "1201-1"}))


# ---------------------------------------------------------------------------------------------
# UmeTrack raw data


def test_umetrack_camera_dict_round_trip(tmp_path):
    fisheye = CameraModel("fisheye62", 636, 480, 238.2, 238.6, 317.4, 240.8, (-0.0264, 0.0385, -0.018, 0.0037, 1.2e-4, -3.5e-4, -1.5e-4, 2e-5))
    pinhole = CameraModel("pinhole", 636, 480, 238.2, 238.6, 317.4, 240.8)
    document = camera_model_to_umetrack_dict(fisheye)
    assert document["DistortionModel"] == "FishEye62" and document["k5"] == -1.5e-4 and document["p1"] == 1.2e-4
    path = write_json(tmp_path / "cameras.json", {"cameras": [document, {"Camera": camera_model_to_umetrack_dict(pinhole)}]})
    loaded = read_json(path)["cameras"]
    assert camera_model_from_umetrack_dict(loaded[0], path, "cameras[0]") == fisheye
    assert camera_model_from_umetrack_dict(loaded[1], path, "cameras[1]") == pinhole
    with pytest.raises(InvalidCameraError):
        camera_model_to_umetrack_dict(CameraModel("opencv", 640, 480, 500, 500, 320, 240, (0.0,) * 5))


@pytest.mark.parametrize(
    "edit, field, reason",
    [
        (lambda d: d["Camera"].pop("fx"), "cameras[2].Camera.fx", "missing"),
        (lambda d: d["Camera"].__setitem__("k6", float("nan")), "cameras[2].Camera.k6", "NaN"),
        (lambda d: d["Camera"].__setitem__("ImageSizeX", 636.5), "cameras[2].Camera.ImageSizeX", "expected an integer"),
        (lambda d: d["Camera"].__setitem__("DistortionModel", "KB4"), "cameras[2].Camera.DistortionModel", "expected one of"),
        (lambda d: d["Camera"].__setitem__("fy", 0.0), "cameras[2].Camera", "focal length fy must be positive"),
    ],
)
def test_umetrack_camera_dict_errors(tmp_path, edit, field, reason):
    model = CameraModel("fisheye62", 636, 480, 238.2, 238.6, 317.4, 240.8, (0.01,) * 8)
    entry = {"Camera": camera_model_to_umetrack_dict(model)}
    edit(entry)
    path = write_json(tmp_path / "recording_00.json", {"cameras": [entry]})
    with pytest.raises(FormatError) as info:
        camera_model_from_umetrack_dict(read_json(path)["cameras"][0], path, "cameras[2]")
    message = str(info.value)
    assert str(path) in message and f"'{field}'" in message and reason in message, message


# ---------------------------------------------------------------------------------------------
# Hand Tracking Challenge cameras.json


def challenge_document() -> dict:
    def entry(label, stream_id, width, height, model_type, params, rotation_vector, translation):
        return {
            "calibration": {
                "label": label,
                "stream_id": stream_id,
                "serial_number": "0000",
                "image_width": width,
                "image_height": height,
                "projection_model_type": model_type,
                "projection_params": params,
                "T_device_from_camera": {"quaternion_wxyz": [1, 0, 0, 0], "translation_xyz": [0, 0, 0]},
                "max_solid_angle": 1.4,
            },
            "T_world_from_camera": {"quaternion_wxyz": quaternion_wxyz(rotation_vector), "translation_xyz": translation},
        }

    return {
        "1201-1": entry("camera-slam-left", "1201-1", 640, 480, "CameraModelType.FISHEYE624", ARIA_SLAM_PARAMS, [0.1, 0.2, -0.3], [0.1, 1.5, -0.2]),
        "214-1": entry("camera-rgb", "214-1", 1408, 1408, "OculusVisionFishEye624", [610.9, 611.2] + ARIA_RGB_PARAMS[1:], [0.0, -0.4, 0.0], [0.0, 1.6, 0.0]),
        "0": entry("cam0", "0", 640, 480, "OpenCV", [500, 505, 320, 240, -0.28, 0.09, -0.01, 1e-3, -5e-4], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
        "1": entry("cam1", "1", 636, 480, "OculusVisionFishEye", [238, 238, 317, 240, -0.01, 0.02, -0.005, 4e-4, 1e-4, -2e-4, 0.01, -1e-3], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
    }


def test_challenge_cameras(tmp_path):
    path = write_json(tmp_path / "000000.cameras.json", challenge_document())
    cameras = read_challenge_cameras(path)
    assert sorted(cameras) == ["0", "1", "1201-1", "214-1"]
    slam = cameras["1201-1"]
    assert slam.label == "camera-slam-left"
    assert (slam.model.kind, slam.model.width, slam.model.height) == ("fisheye624", 640, 480)
    # 15 values: Aria layout f, cx, cy, k1..k6, p1, p2, s1..s4
    assert (slam.model.fx, slam.model.fy, slam.model.cx, slam.model.cy) == (241.2, 241.2, 318.4, 237.9)
    assert slam.model.distortion == tuple(ARIA_SLAM_PARAMS[3:])
    expected = torch.eye(4, dtype=torch.float64)
    expected[:3, :3] = axis_angle_to_matrix(torch.tensor([0.1, 0.2, -0.3], dtype=torch.float64))
    expected[:3, 3] = torch.tensor([0.1, 1.5, -0.2], dtype=torch.float64)
    assert torch.allclose(slam.T_world_from_camera, expected, atol=1e-12)
    rgb = cameras["214-1"]
    assert rgb.model.kind == "fisheye624" and (rgb.model.fx, rgb.model.fy) == (610.9, 611.2)
    assert cameras["0"].model.kind == "opencv" and cameras["0"].model.distortion == (-0.28, 0.09, -0.01, 1e-3, -5e-4)
    assert cameras["1"].model.kind == "oculus_fisheye" and cameras["1"].model.coefficients["p4"] == -1e-3
    # the whole chain works: a point 1 m in front of the SLAM camera lands at its principal point
    in_front = expected[:3, 3] + expected[:3, 2]
    pixel, valid = slam.project_world(in_front[None])
    assert valid.all() and pixel[0].tolist() == pytest.approx([318.4, 237.9], abs=1e-9)


@pytest.mark.parametrize(
    "edit, field, reason",
    [
        (lambda d: d["0"]["calibration"]["projection_params"].pop(), "0.calibration.projection_params", "OpenCV expects 9 parameters, got 8"),
        (lambda d: d["1201-1"]["calibration"].__setitem__("projection_model_type", "Equidistant"), "1201-1.calibration.projection_model_type", "unsupported"),
        (lambda d: d["1201-1"]["calibration"].pop("image_height"), "1201-1.calibration.image_height", "missing"),
        (lambda d: d["214-1"].pop("T_world_from_camera"), "214-1.T_world_from_camera", "missing"),
        (lambda d: d["214-1"]["T_world_from_camera"]["translation_xyz"].__setitem__(1, float("inf")), "214-1.T_world_from_camera.translation_xyz", "NaN or inf"),
        (lambda d: d["1"]["calibration"]["projection_params"].__setitem__(2, "centre"), "1.calibration.projection_params", "non-numeric"),
    ],
)
def test_challenge_cameras_errors(tmp_path, edit, field, reason):
    document = challenge_document()
    edit(document)
    path = write_json(tmp_path / "000007.cameras.json", document)
    with pytest.raises(FormatError) as info:
        read_challenge_cameras(path)
    message = str(info.value)
    assert str(path) in message and f"'{field}'" in message and reason in message, message


# ---------------------------------------------------------------------------------------------
# Aria online calibration


def aria_line(timestamp_us: int) -> dict:
    def camera(label, params, rotation_vector, translation):
        w, x, y, z = quaternion_wxyz(rotation_vector)
        return {
            "Label": label,
            "Projection": {"Name": "FisheyeRadTanThinPrism", "Params": params, "Description": "see FisheyeRadTanThinPrism.h"},
            "T_Device_Camera": {"Translation": translation, "UnitQuaternion": [w, [x, y, z]]},
            "SerialNumber": "0450577b730309174400100000000000",
            "Calibrated": True,
        }

    return {
        "utc_timestamp_ns": 1_697_000_000_123_456_789,
        "tracking_timestamp_us": timestamp_us,
        "ImuCalibrations": [],
        "CameraCalibrations": [
            camera("camera-slam-left", ARIA_SLAM_PARAMS, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
            camera("camera-slam-right", ARIA_SLAM_PARAMS, [0.2, -0.9, 0.1], [-0.004, -0.002, -0.11]),
            camera("camera-rgb", ARIA_RGB_PARAMS, [0.3, -0.4, 0.2], [-0.004, -0.012, -0.005]),
            camera("camera-et-left", [1.0] * 16, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
        ],
    }


def test_aria_online_calibration(tmp_path):
    path = tmp_path / "online_calibration.jsonl"
    path.write_text("\n".join(json.dumps(aria_line(t)) for t in (1_000_000, 1_001_000)) + "\n", encoding="utf-8")
    calibrations = read_aria_online_calibration(path)
    assert [c.tracking_timestamp_us for c in calibrations] == [1_000_000, 1_001_000]
    cameras = {c.stream_id: c for c in calibrations[0].cameras}
    assert sorted(cameras) == ["1201-1", "1201-2", "214-1"]  # the eye-tracking camera is skipped
    slam, rgb = cameras["1201-2"], cameras["214-1"]
    assert slam.label == "camera-slam-right" and (slam.model.width, slam.model.height) == (640, 480)
    assert (rgb.model.width, rgb.model.height) == (1408, 1408)
    assert (rgb.model.fx, rgb.model.fy, rgb.model.cx, rgb.model.cy) == (610.9, 610.9, 715.1, 716.6)
    assert rgb.model.kind == "fisheye624" and rgb.model.distortion == tuple(ARIA_RGB_PARAMS[3:])
    expected_rotation = axis_angle_to_matrix(torch.tensor([0.3, -0.4, 0.2], dtype=torch.float64))
    assert torch.allclose(rgb.T_device_from_camera[:3, :3], expected_rotation, atol=1e-12)
    assert rgb.T_device_from_camera[:3, 3].tolist() == [-0.004, -0.012, -0.005]


def test_aria_errors_name_line_and_field(tmp_path):
    good, bad = aria_line(1), aria_line(2)
    bad["CameraCalibrations"][2]["T_Device_Camera"]["UnitQuaternion"] = [1.0, 0.0, 0.0, 0.0]
    path = tmp_path / "online_calibration.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(FormatError) as info:
        read_aria_online_calibration(path)
    message = str(info.value)
    assert str(path) in message and "'line 2.CameraCalibrations[2].T_Device_Camera.UnitQuaternion'" in message, message

    bad = aria_line(2)
    bad["CameraCalibrations"][0]["Projection"]["Params"] = ARIA_SLAM_PARAMS[:-1]
    path.write_text(json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"'line 1.CameraCalibrations\[0\].Projection.Params': expected shape 15, got 14"):
        read_aria_online_calibration(path)

    path.write_text(json.dumps(good) + "\n" + json.dumps(good)[:-40] + "\n", encoding="utf-8")
    with pytest.raises(FormatError, match="'line 2': malformed JSON"):
        read_aria_online_calibration(path)


def test_pose_from_dict_is_camera_to_parent():
    T = pose_from_dict({"quaternion_wxyz": [math.cos(0.25), 0.0, 0.0, math.sin(0.25)], "translation_xyz": [1.0, 2.0, 3.0]})
    # 0.5 rad about +z, then translate
    assert torch.allclose(T @ torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64), torch.tensor([1 + math.cos(0.5), 2 + math.sin(0.5), 3.0, 1.0], dtype=torch.float64))
    with pytest.raises(FormatError, match="'pose.quaternion_wxyz': missing"):
        pose_from_dict({"translation_xyz": [0, 0, 0]}, "frame.json", "pose")
