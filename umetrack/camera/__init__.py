"""Cameras: models (pinhole, OpenCV, rational, fisheye62/624, Oculus fisheye), posed cameras, and
calibration readers for UmeTrack raw data, HOT3D, Aria and the Hand Tracking Challenge."""

from umetrack.camera.io import (
    ARIA_STREAMS,
    PROJECTION_MODEL_TYPES,
    UMETRACK_MODEL_NAMES,
    AriaOnlineCalibration,
    aria_calibration_from_dict,
    camera_model_from_projection_params,
    camera_model_from_umetrack_dict,
    camera_model_to_umetrack_dict,
    challenge_cameras_from_dict,
    hot3d_camera_models_from_list,
    pose_from_dict,
    read_aria_online_calibration,
    read_challenge_cameras,
    read_hot3d_camera_models,
)
from umetrack.camera.models import (
    COEFFICIENT_NAMES,
    FISHEYE_KINDS,
    MIN_DEPTH_M,
    Camera,
    CameraModel,
    CameraModelStack,
    DeviceCamera,
)

__all__ = [
    "ARIA_STREAMS",
    "COEFFICIENT_NAMES",
    "FISHEYE_KINDS",
    "MIN_DEPTH_M",
    "PROJECTION_MODEL_TYPES",
    "UMETRACK_MODEL_NAMES",
    "AriaOnlineCalibration",
    "Camera",
    "CameraModel",
    "CameraModelStack",
    "DeviceCamera",
    "aria_calibration_from_dict",
    "camera_model_from_projection_params",
    "camera_model_from_umetrack_dict",
    "camera_model_to_umetrack_dict",
    "challenge_cameras_from_dict",
    "hot3d_camera_models_from_list",
    "pose_from_dict",
    "read_aria_online_calibration",
    "read_challenge_cameras",
    "read_hot3d_camera_models",
]
