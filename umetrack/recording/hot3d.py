"""Readers for HOT3D per-recording files (data_formats.md §6). Metres, world frame, TIME_CODE ns.

Files: ``umetrack_hand_pose_trajectory.jsonl``, ``headset_trajectory.csv``, ``box2d_hands.csv``,
``metadata.json``; cameras come from ``umetrack.camera.io`` and the hand profile from
``umetrack.hand.io.load_hand_model``. ``read_hot3d_recording`` assembles a whole Quest 3 recording
folder into a ``Recording`` (poses and calibration only: the images live in the VRS file).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from umetrack.camera.io import read_hot3d_camera_models
from umetrack.errors import FormatError, InvalidPoseError
from umetrack.fileio import array_field, read_json, read_jsonl, require
from umetrack.geometry import make_transform, quaternion_wxyz_to_matrix
from umetrack.hand.io import load_hand_model
from umetrack.hand.pose import HandPose
from umetrack.recording.frames import NoFrameSource
from umetrack.recording.model import HandTrajectory, Recording, joint_angles_22

HandPoses = dict[int, HandPose]


def read_hand_pose_trajectory(path: str | Path) -> dict[int, HandPoses]:
    """``umetrack_hand_pose_trajectory.jsonl`` -> {timestamp_ns: {hand_index: HandPose}}.

    A side absent from a line means that hand has no ground truth at that time.
    Raises FormatError naming the line and field for malformed entries, NaN values or a
    non-rigid wrist transform.
    """
    out: dict[int, HandPoses] = {}
    for number, entry in enumerate(read_jsonl(path), start=1):
        line = f"line {number}"
        timestamp = int(require(entry, "timestamp_ns", path, line))
        poses: HandPoses = {}
        for side, pose in (require(entry, "hand_poses", path, line) or {}).items():
            field = f"{line}.hand_poses.{side}"
            if side not in ("0", "1"):
                raise FormatError(path, field, "hand index must be '0' (left) or '1' (right)")
            wrist = require(pose, "wrist_xform", path, field)
            q = array_field(wrist, "q_wxyz", (4,), path, f"{field}.wrist_xform")
            t = array_field(wrist, "t_xyz", (3,), path, f"{field}.wrist_xform")
            if np.linalg.norm(q) < 1e-6:
                raise FormatError(path, f"{field}.wrist_xform.q_wxyz", "zero quaternion")
            angles = array_field(pose, "joint_angles", (None,), path, field)
            angles22 = torch.as_tensor(joint_angles_22(angles, path, f"{field}.joint_angles"))
            T = make_transform(quaternion_wxyz_to_matrix(torch.as_tensor(q)), torch.as_tensor(t))
            confidence = float(pose.get("hand_confidence", 1.0))
            try:
                poses[int(side)] = HandPose(int(side), angles22, T, confidence).validated(f"{path}: {field}")
            except InvalidPoseError as exc:
                raise FormatError(path, field, str(exc)) from None
        out[timestamp] = poses
    return out


@dataclass(frozen=True, eq=False)
class HeadsetTrajectory:
    """Device poses over time. timestamps_ns: (N,) int64 sorted; T_world_from_device: (N, 4, 4) metres."""

    timestamps_ns: np.ndarray
    T_world_from_device: torch.Tensor

    def at(self, timestamp_ns: int) -> torch.Tensor:
        """(4, 4) pose at an exact timestamp (HOT3D gives poses at every image timestamp)."""
        index = int(np.searchsorted(self.timestamps_ns, timestamp_ns))
        if index >= len(self.timestamps_ns) or self.timestamps_ns[index] != timestamp_ns:
            raise KeyError(f"no headset pose at timestamp {timestamp_ns}")
        return self.T_world_from_device[index]


def _read_csv_rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise FormatError(path, missing[0], "missing column")
            return list(reader)
    except FileNotFoundError:
        raise FormatError(path, "", "file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise FormatError(path, "", f"cannot read CSV: {exc}") from None


def _float(row: dict[str, str], column: str, path: Path, number: int) -> float:
    try:
        value = float(row[column])
    except (TypeError, ValueError):
        raise FormatError(path, f"row {number}.{column}", f"not a number: {row.get(column)!r}") from None
    if not np.isfinite(value):
        raise FormatError(path, f"row {number}.{column}", "NaN or inf")
    return value


_HEADSET_COLUMNS = ("timestamp[ns]", "t_wo_x[m]", "t_wo_y[m]", "t_wo_z[m]", "q_wo_w", "q_wo_x", "q_wo_y", "q_wo_z")


def read_headset_trajectory(path: str | Path) -> HeadsetTrajectory:
    """``headset_trajectory.csv`` (T_world_device per timestamp)."""
    path = Path(path)
    rows = _read_csv_rows(path, _HEADSET_COLUMNS)
    if not rows:
        raise FormatError(path, "", "no rows")
    values = np.array([[_float(r, c, path, i + 2) for c in _HEADSET_COLUMNS[1:]] for i, r in enumerate(rows)])
    timestamps = np.array([int(r["timestamp[ns]"]) for r in rows], dtype=np.int64)
    order = np.argsort(timestamps, kind="stable")
    values, timestamps = values[order], timestamps[order]
    rotation = quaternion_wxyz_to_matrix(torch.as_tensor(values[:, 3:7]))
    return HeadsetTrajectory(timestamps, make_transform(rotation, torch.as_tensor(values[:, :3])))


@dataclass(frozen=True)
class HandBox:
    """A hand's 2D box in one stream at one time; None coordinates when the hand is not visible."""

    stream_id: str
    hand_index: int
    timestamp_ns: int
    x_min: float | None
    x_max: float | None
    y_min: float | None
    y_max: float | None
    visibility_ratio: float


def read_box2d_hands(path: str | Path) -> list[HandBox]:
    """``box2d_hands.csv``; the visibility ratio is a fraction in [0, 1] despite the '%' in its name."""
    path = Path(path)
    columns = ("stream_id", "hand_index", "timestamp[ns]", "x_min[pixel]", "x_max[pixel]", "y_min[pixel]", "y_max[pixel]", "visibility_ratio[%]")
    boxes = []
    for i, row in enumerate(_read_csv_rows(path, columns)):
        coords = [row[c].strip() for c in columns[3:7]]
        box = [None if not c else _float(row, name, path, i + 2) for c, name in zip(coords, columns[3:7])]
        boxes.append(
            HandBox(row["stream_id"], int(row["hand_index"]), int(row["timestamp[ns]"]), *box, _float(row, columns[7], path, i + 2))
        )
    return boxes


# ---------------------------------------------------------------------------------------------
# A whole recording folder


METADATA = "metadata.json"
HAND_POSES = "umetrack_hand_pose_trajectory.jsonl"
HEADSET_TRAJECTORY = "headset_trajectory.csv"
CAMERA_MODELS = "camera_models.json"
HAND_PROFILE = "umetrack_hand_user_profile.json"
NO_IMAGES_REASON = "HOT3D per-recording files have no images (they are stored in the recording's VRS file)"


def is_hot3d_folder(path: str | Path) -> bool:
    """True when ``path`` is a folder holding HOT3D per-recording files."""
    path = Path(path)
    return path.is_dir() and any((path / name).is_file() for name in (METADATA, HEADSET_TRAJECTORY, HAND_POSES))


def read_hot3d_recording(folder: str | Path) -> Recording:
    """A HOT3D Quest 3 recording folder -> Recording with per-frame cameras, GT and no images.

    Frames are the timestamps of ``headset_trajectory.csv`` (HOT3D gives a device pose at every
    image timestamp; both Quest 3 SLAM streams share them). Views are the cameras of
    ``camera_models.json`` sorted by stream id; T_world_from_camera = T_world_device(t) @
    T_device_camera. GT comes from ``umetrack_hand_pose_trajectory.jsonl`` (None when the file is
    absent; a hand without a pose at a frame's timestamp is absent there) and the hand model from
    ``umetrack_hand_user_profile.json`` (None when absent). ``frames`` is a ``NoFrameSource``:
    ``Recording.image`` raises ``ImagesUnavailableError``.

    Raises:
        FormatError: not a folder, a missing ``camera_models.json`` (Aria recordings keep their
            calibration in the VRS file: not supported) or ``headset_trajectory.csv``, malformed
            files, or hand poses none of whose timestamps match a frame.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FormatError(folder, "", "not a folder")
    metadata = read_json(folder / METADATA) if (folder / METADATA).is_file() else {}
    name = metadata.get("recording_name", folder.name) if isinstance(metadata, dict) else folder.name
    if not isinstance(name, str):
        raise FormatError(folder / METADATA, "recording_name", "expected a string")
    if not (folder / CAMERA_MODELS).is_file():
        headset = metadata.get("headset", "unknown") if isinstance(metadata, dict) else "unknown"
        raise FormatError(
            folder / CAMERA_MODELS, "", f"file not found (headset {headset}; Aria recordings keep calibration in the VRS file, not supported)"
        )
    devices = read_hot3d_camera_models(folder / CAMERA_MODELS)
    views = sorted(devices)
    headset = read_headset_trajectory(folder / HEADSET_TRAJECTORY)
    T_world_from_device = headset.T_world_from_device.double().numpy()
    T_device_from_camera = np.stack([devices[s].T_device_from_camera.double().numpy() for s in views])
    T_world_from_camera = T_world_from_device[:, None] @ T_device_from_camera[None]

    gt = None
    if (folder / HAND_POSES).is_file():
        poses = read_hand_pose_trajectory(folder / HAND_POSES)
        matched = [poses.get(int(t), {}) for t in headset.timestamps_ns]
        if poses and not any(int(t) in poses for t in headset.timestamps_ns):
            raise FormatError(folder / HAND_POSES, "timestamp_ns", f"no timestamp matches a frame of {HEADSET_TRAJECTORY}")
        gt = HandTrajectory.from_poses(matched)
    hand_model = load_hand_model(folder / HAND_PROFILE) if (folder / HAND_PROFILE).is_file() else None
    models = tuple(devices[s].model for s in views)
    return Recording(
        name=name,
        timestamps_ns=headset.timestamps_ns,
        view_labels=tuple(views),
        camera_models=models,
        T_world_from_camera=T_world_from_camera,
        headset_tracked=np.ones(len(headset.timestamps_ns), dtype=bool),
        frames=NoFrameSource(len(headset.timestamps_ns), [(m.width, m.height) for m in models], NO_IMAGES_REASON),
        hand_model=hand_model,
        gt=gt,
        source=folder,
    )
