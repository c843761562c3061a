"""Readers for HOT3D per-recording files (data_formats.md §6). Metres, world frame, TIME_CODE ns.

Files: ``umetrack_hand_pose_trajectory.jsonl``, ``headset_trajectory.csv``, ``box2d_hands.csv``,
``metadata.json``; cameras come from ``umetrack.camera.io`` and the hand profile from
``umetrack.hand.io.load_hand_model``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from umetrack.errors import FormatError, InvalidPoseError
from umetrack.fileio import array_field, read_jsonl, require
from umetrack.geometry import make_transform, quaternion_wxyz_to_matrix
from umetrack.hand.pose import HandPose

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
            if len(angles) not in (20, 22):
                raise FormatError(path, f"{field}.joint_angles", f"expected 20 or 22 angles, got {len(angles)}")
            angles22 = torch.zeros(22, dtype=torch.float64)
            angles22[: len(angles)] = torch.as_tensor(angles)
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
