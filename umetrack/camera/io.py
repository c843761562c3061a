"""Camera calibration readers (and the UmeTrack raw-data writer), cameras.md §4-8.

Every reader has a ``*_from_dict`` form for an already-parsed document (``source`` names where it
came from, e.g. a tar member) and, where the format is a file of its own, a ``read_*`` form taking
a path. Bad input raises ``FormatError`` naming the source and the dotted field
("[1].projectionParams", "1201-1.calibration.image_width"). All lengths are metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from umetrack.camera.models import COEFFICIENT_NAMES, Camera, CameraModel, DeviceCamera
from umetrack.errors import FormatError, InvalidCameraError
from umetrack.fileio import array_field, read_json, read_jsonl, require
from umetrack.geometry import make_transform, quaternion_wxyz_to_matrix

Source = str | Path | None

_UNIT_QUATERNION_TOLERANCE = 1e-3
"""Stored quaternions are unit to ~1e-7 (float32 writers); anything farther off is not a rotation."""

UMETRACK_MODEL_NAMES = {"PinholePlane": "pinhole", "FishEye62": "fisheye62", "FishEye624": "fisheye624"}
"""UmeTrack raw data ``DistortionModel`` -> kind (cameras.md §5). "FishEye624" (k1..k6, p1, p2,
s1..s4 keys) is this project's extension for headsets with thin-prism lenses (our synthetic rig);
the released loader only knows the first two, so recordings of fisheye62 cameras stay compatible."""

PROJECTION_MODEL_TYPES = {
    "PinholePlane": "pinhole",
    "OpenCV": "opencv",
    "Rational": "rational",
    "OculusVisionFishEye": "oculus_fisheye",
    "OculusVisionFishEye62": "fisheye62",
    "OculusVisionFishEye624": "fisheye624",
    "CameraModelType.FISHEYE624": "fisheye624",
}
"""HOT3D ``projectionModelType`` / challenge ``projection_model_type`` -> kind (cameras.md §8)."""

ARIA_STREAMS = {
    "camera-slam-left": ("1201-1", 640, 480),
    "camera-slam-right": ("1201-2", 640, 480),
    "camera-rgb": ("214-1", 1408, 1408),
}
"""Aria label -> (stream id, width, height). The calibration JSON carries no image size; these are
the Aria sensor sizes (SLAM 640x480, RGB full resolution 1408x1408) from device knowledge."""


def _field(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _float(document: Any, key: str, source: Source, parent: str) -> float:
    return float(array_field(document, key, (), source, parent))


def _int(document: Any, key: str, source: Source, parent: str) -> int:
    value = require(document, key, source, parent)
    # bool is an int subclass; JSON ints may be huge (ns timestamps), so never go through float64.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value != int(value):
        raise FormatError(source, _field(parent, key), f"expected an integer, got {value!r}")
    return int(value)


def _string(document: Any, key: str, source: Source, parent: str) -> str:
    value = require(document, key, source, parent)
    if not isinstance(value, str):
        raise FormatError(source, _field(parent, key), f"expected a string, got {type(value).__name__}")
    return value


def _model(kind: str, width: int, height: int, intrinsics: tuple[float, float, float, float], distortion, source: Source, field: str) -> CameraModel:
    """CameraModel, with its validation errors reported as FormatError on ``field``."""
    try:
        return CameraModel(kind, width, height, *intrinsics, tuple(distortion))
    except InvalidCameraError as exc:
        raise FormatError(source, field, str(exc)) from None


def _pose(rotation_wxyz: np.ndarray, translation: np.ndarray, source: Source, field: str) -> torch.Tensor:
    norm = float(np.linalg.norm(rotation_wxyz))
    if abs(norm - 1.0) > _UNIT_QUATERNION_TOLERANCE:
        raise FormatError(source, field, f"quaternion norm is {norm:.6g}, expected a unit quaternion (w, x, y, z)")
    q = torch.as_tensor(rotation_wxyz, dtype=torch.float64)
    return make_transform(quaternion_wxyz_to_matrix(q), torch.as_tensor(translation, dtype=torch.float64))


def pose_from_dict(document: Any, source: Source = None, parent: str = "") -> torch.Tensor:
    """``{"quaternion_wxyz": [w, x, y, z], "translation_xyz": [x, y, z]}`` -> (4, 4) float64 T_a_from_b.

    The transform is returned as stored (HOT3D ``T_Device_Camera`` is camera -> device, challenge
    ``T_world_from_camera`` is camera -> world). Translation unit as stored (metres in HOT3D and the
    challenge). Raises FormatError for missing keys, wrong lengths, NaN or a non-unit quaternion.
    """
    q = array_field(document, "quaternion_wxyz", (4,), source, parent)
    t = array_field(document, "translation_xyz", (3,), source, parent)
    return _pose(q, t, source, _field(parent, "quaternion_wxyz"))


def camera_model_from_projection_params(
    model_type: str,
    width: int,
    height: int,
    params: Any,
    source: Source = None,
    field: str = "projection_params",
    type_field: str = "projection_model_type",
) -> CameraModel:
    """Build a CameraModel from a model-type name and a flat parameter vector (cameras.md §4, §8).

    Layouts: ``CameraModelType.FISHEYE624`` with 15 values is Aria's (f, cx, cy, k1..k6, p1, p2,
    s1..s4); every other case is (fx, fy, cx, cy, *coefficients in ``COEFFICIENT_NAMES[kind]``
    order*). ``field`` / ``type_field`` name the parameter vector / the type in errors.
    """
    if model_type not in PROJECTION_MODEL_TYPES:
        raise FormatError(source, type_field, f"unsupported projection model type {model_type!r}; known: {sorted(PROJECTION_MODEL_TYPES)}")
    kind = PROJECTION_MODEL_TYPES[model_type]
    values = np.asarray(params, dtype=np.float64)
    count = len(COEFFICIENT_NAMES[kind])
    if model_type == "CameraModelType.FISHEYE624" and len(values) == 3 + count:
        intrinsics = (values[0], values[0], values[1], values[2])
        distortion = values[3:]
    elif len(values) == 4 + count:
        intrinsics = tuple(values[:4])
        distortion = values[4:]
    else:
        expected = f"{4 + count}" + (f" or {3 + count}" if model_type == "CameraModelType.FISHEYE624" else "")
        raise FormatError(source, field, f"{model_type} expects {expected} parameters, got {len(values)}")
    return _model(kind, width, height, intrinsics, distortion, source, field)


# ---------------------------------------------------------------------------------------------
# UmeTrack raw data (cameras.md §5)


def camera_model_from_umetrack_dict(document: Any, source: Source = None, parent: str = "") -> CameraModel:
    """A UmeTrack raw-data camera entry (optionally wrapped as ``{"Camera": {...}}``) -> CameraModel.

    Keys: ImageSizeX, ImageSizeY, fx, fy, cx, cy, DistortionModel ("FishEye62" | "PinholePlane" |
    our "FishEye624") and the model's coefficients by name (FishEye62: k1..k6, p1, p2; FishEye624:
    also s1..s4). No extrinsics (they are per frame in the labels, in mm).
    """
    if isinstance(document, dict) and "Camera" in document:
        parent = _field(parent, "Camera")
        document = document["Camera"]
    name = _string(document, "DistortionModel", source, parent)
    if name not in UMETRACK_MODEL_NAMES:
        raise FormatError(source, _field(parent, "DistortionModel"), f"expected one of {sorted(UMETRACK_MODEL_NAMES)}, got {name!r}")
    kind = UMETRACK_MODEL_NAMES[name]
    width = _int(document, "ImageSizeX", source, parent)
    height = _int(document, "ImageSizeY", source, parent)
    intrinsics = tuple(_float(document, key, source, parent) for key in ("fx", "fy", "cx", "cy"))
    distortion = [_float(document, key, source, parent) for key in COEFFICIENT_NAMES[kind]]
    return _model(kind, width, height, intrinsics, distortion, source, parent or "<root>")


def camera_model_to_umetrack_dict(model: CameraModel) -> dict[str, Any]:
    """The UmeTrack raw-data camera entry (unwrapped) for a pinhole, fisheye62 or fisheye624 model.

    Raises InvalidCameraError for kinds the format cannot store.
    """
    names = {kind: name for name, kind in UMETRACK_MODEL_NAMES.items()}
    if model.kind not in names:
        raise InvalidCameraError(f"UmeTrack raw data stores only {', '.join(sorted(names))} cameras, not {model.kind}")
    document: dict[str, Any] = {
        "ImageSizeX": model.width,
        "ImageSizeY": model.height,
        "fx": model.fx,
        "fy": model.fy,
        "cx": model.cx,
        "cy": model.cy,
        "DistortionModel": names[model.kind],
    }
    document.update(model.coefficients)
    return document


# ---------------------------------------------------------------------------------------------
# HOT3D Quest 3 camera_models.json (cameras.md §6)


def hot3d_camera_models_from_list(document: Any, source: Source = None) -> dict[str, DeviceCamera]:
    """Parsed HOT3D ``camera_models.json`` -> {stream_id: DeviceCamera} (T_device_from_camera, metres).

    ``maxSolidAngle`` is ignored, as HOT3D's loader does (``CameraModel.max_angle`` plays its role).
    """
    if not isinstance(document, list):
        raise FormatError(source, "<root>", f"expected a JSON list of cameras, got {type(document).__name__}")
    out: dict[str, DeviceCamera] = {}
    for index, entry in enumerate(document):
        parent = f"[{index}]"
        stream_id = _string(entry, "stream_id", source, parent)
        if stream_id in out:
            raise FormatError(source, _field(parent, "stream_id"), f"duplicate stream id {stream_id!r}")
        params = array_field(entry, "projectionParams", (None,), source, parent)
        model = camera_model_from_projection_params(
            _string(entry, "projectionModelType", source, parent),
            _int(entry, "imageWidth", source, parent),
            _int(entry, "imageHeight", source, parent),
            params,
            source,
            _field(parent, "projectionParams"),
            _field(parent, "projectionModelType"),
        )
        T_device_from_camera = pose_from_dict(require(entry, "T_Device_Camera", source, parent), source, _field(parent, "T_Device_Camera"))
        out[stream_id] = DeviceCamera(stream_id, _string(entry, "label", source, parent), model, T_device_from_camera)
    return out


def read_hot3d_camera_models(path: str | Path) -> dict[str, DeviceCamera]:
    """HOT3D Quest 3 ``camera_models.json`` file -> {stream_id: DeviceCamera}."""
    return hot3d_camera_models_from_list(read_json(path), path)


# ---------------------------------------------------------------------------------------------
# Aria MPS online_calibration.jsonl (cameras.md §7)


@dataclass(frozen=True)
class AriaOnlineCalibration:
    """One line of ``online_calibration.jsonl``.

    Attributes:
        tracking_timestamp_us: device-clock timestamp, microseconds (not the TIME_CODE ns of HOT3D).
        cameras: the SLAM and RGB cameras of ``ARIA_STREAMS`` found in the line (others, e.g. eye
            tracking, are skipped: their image size is unknown here).
    """

    tracking_timestamp_us: int
    cameras: tuple[DeviceCamera, ...]


def _aria_quaternion(document: Any, source: Source, parent: str) -> np.ndarray:
    """``"UnitQuaternion": [w, [x, y, z]]`` -> (4,) w, x, y, z."""
    value = require(document, "UnitQuaternion", source, parent)
    field = _field(parent, "UnitQuaternion")
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[1], list) and len(value[1]) == 3):
        raise FormatError(source, field, "expected [w, [x, y, z]]")
    return array_field({"UnitQuaternion": [value[0], *value[1]]}, "UnitQuaternion", (4,), source, parent)


def aria_calibration_from_dict(document: Any, source: Source = None, parent: str = "") -> AriaOnlineCalibration:
    """One parsed line of Aria ``online_calibration.jsonl`` -> AriaOnlineCalibration (metres)."""
    cameras = []
    entries = require(document, "CameraCalibrations", source, parent)
    if not isinstance(entries, list):
        raise FormatError(source, _field(parent, "CameraCalibrations"), "expected a list")
    for index, entry in enumerate(entries):
        entry_parent = f"{_field(parent, 'CameraCalibrations')}[{index}]"
        label = _string(entry, "Label", source, entry_parent)
        if label not in ARIA_STREAMS:
            continue
        stream_id, width, height = ARIA_STREAMS[label]
        projection_parent = _field(entry_parent, "Projection")
        projection = require(entry, "Projection", source, entry_parent)
        name = _string(projection, "Name", source, projection_parent)
        if name != "FisheyeRadTanThinPrism":
            raise FormatError(source, _field(projection_parent, "Name"), f"expected 'FisheyeRadTanThinPrism', got {name!r}")
        params = array_field(projection, "Params", (15,), source, projection_parent)
        model = camera_model_from_projection_params(
            "CameraModelType.FISHEYE624", width, height, params, source, _field(projection_parent, "Params"), _field(projection_parent, "Name")
        )
        pose_parent = _field(entry_parent, "T_Device_Camera")
        pose = require(entry, "T_Device_Camera", source, entry_parent)
        translation = array_field(pose, "Translation", (3,), source, pose_parent)
        T_device_from_camera = _pose(_aria_quaternion(pose, source, pose_parent), translation, source, _field(pose_parent, "UnitQuaternion"))
        cameras.append(DeviceCamera(stream_id, label, model, T_device_from_camera))
    return AriaOnlineCalibration(_int(document, "tracking_timestamp_us", source, parent), tuple(cameras))


def read_aria_online_calibration(path: str | Path) -> list[AriaOnlineCalibration]:
    """Every line of an Aria ``online_calibration.jsonl`` file, in file order (errors name "line N")."""
    return [aria_calibration_from_dict(line, path, f"line {number}") for number, line in enumerate(read_jsonl(path), start=1)]


# ---------------------------------------------------------------------------------------------
# Hand Tracking Challenge <frame>.cameras.json (cameras.md §8)


def challenge_cameras_from_dict(document: Any, source: Source = None) -> dict[str, Camera]:
    """Parsed challenge ``<frame>.cameras.json`` -> {stream_id: Camera} (T_world_from_camera, metres).

    The camera's label is ``calibration.label`` (an RGB camera has "rgb" in it).
    """
    if not isinstance(document, dict):
        raise FormatError(source, "<root>", f"expected a JSON object keyed by stream id, got {type(document).__name__}")
    out: dict[str, Camera] = {}
    for stream_id, entry in document.items():
        calibration = require(entry, "calibration", source, stream_id)
        parent = _field(stream_id, "calibration")
        model = camera_model_from_projection_params(
            _string(calibration, "projection_model_type", source, parent),
            _int(calibration, "image_width", source, parent),
            _int(calibration, "image_height", source, parent),
            array_field(calibration, "projection_params", (None,), source, parent),
            source,
            _field(parent, "projection_params"),
            _field(parent, "projection_model_type"),
        )
        T_world_from_camera = pose_from_dict(require(entry, "T_world_from_camera", source, stream_id), source, _field(stream_id, "T_world_from_camera"))
        out[stream_id] = Camera(model, T_world_from_camera, _string(calibration, "label", source, parent))
    return out


def read_challenge_cameras(path: str | Path) -> dict[str, Camera]:
    """Challenge ``<frame>.cameras.json`` file -> {stream_id: Camera}."""
    return challenge_cameras_from_dict(read_json(path), path)
