"""Hand Tracking Challenge / HOT3D-clips webdataset tars (data_formats.md §7), read as a Recording.

Members (``<key>`` = frame id, e.g. "000000"; the frame order is the numeric order of the keys):

* ``<key>.image_<stream_id>.jpg``: one image per camera (colour images are read as luma);
* ``<key>.cameras.json``: {stream_id: {calibration, T_world_from_camera}} (cameras.md §8), metres;
* ``<key>.hands.json`` (absent in test splits): {"left"|"right": {"umetrack_pose": {"joint_angles":
  [20 or 22], "T_world_from_wrist": {quaternion_wxyz, translation_xyz}}}}, a side missing/null = absent.
  A 4x4 ``wrist_xform`` is accepted in place of ``T_world_from_wrist`` (the HOT3D-Clips README
  describes one; the toolkit reads the quaternion form). Right hands in the right-hand convention.
* ``__hand_shapes.json__``: {"umetrack": <model dict, mm>, "mano": [...]} shared by both hands.
* Other members (``hand_crops.json``, ``objects.json``, ``info.json``) are ignored.

Views are the streams of the first frame's ``cameras.json``, sorted by stream id (numerically when
all are numbers); every frame must have the same streams. Intrinsics must agree across frames (the
recording model keeps one per view). The tars carry no timestamps: frame id k is placed at
k * 1e9 / 30 ns (the capture rate of both datasets). Every frame has camera poses (tracked).
Ground truth is None when no frame has ``hands.json``; a hand is present with confidence 1.
The tar is scanned once for member offsets; JSON members are read at open, images on demand.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from umetrack.camera.io import challenge_cameras_from_dict, pose_from_dict
from umetrack.errors import FormatError, InvalidPoseError
from umetrack.fileio import array_field, require
from umetrack.hand.io import hand_model_from_dict
from umetrack.hand.pose import HandPose
from umetrack.recording.frames import DEFAULT_CACHE_FRAMES, TarFrameSource
from umetrack.recording.model import HandTrajectory, Recording, joint_angles_22

CLIP_FPS = 30.0
HAND_SHAPES_MEMBER = "__hand_shapes.json__"
_SIDES = (("left", 0), ("right", 1))
_INTRINSICS_TOLERANCE = 1e-6


def _stream_order(stream_id: str) -> tuple[int, int, str]:
    return (0, int(stream_id), "") if stream_id.isdigit() else (1, 0, stream_id)


def _index_members(path: Path) -> tuple[dict[str, dict[str, tarfile.TarInfo]], tarfile.TarInfo | None]:
    """{frame key: {member suffix: TarInfo}} and the hand-shapes member, from one header scan."""
    frames: dict[str, dict[str, tarfile.TarInfo]] = {}
    shapes = None
    try:
        with tarfile.open(path, mode="r:") as tar:  # webdataset tars are uncompressed (offsets must be seekable)
            for info in tar:
                if not info.isfile():
                    continue
                base = info.name.rsplit("/", 1)[-1]
                if base == HAND_SHAPES_MEMBER:
                    shapes = info
                    continue
                key, dot, suffix = base.partition(".")
                if dot and (suffix.startswith("image_") or suffix in ("cameras.json", "hands.json")):
                    frames.setdefault(key, {})[suffix] = info
    except FileNotFoundError:
        raise FormatError(path, "", "file not found") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise FormatError(path, "", f"not a readable uncompressed tar (corrupt, truncated or compressed): {exc}") from None
    return frames, shapes


def _read_json_member(handle, path: Path, info: tarfile.TarInfo) -> tuple[Any, str]:
    source = f"{path}:{info.name}"
    handle.seek(info.offset_data)
    data = handle.read(info.size)
    if len(data) != info.size:
        raise FormatError(source, "", f"truncated member: {len(data)} of {info.size} bytes")
    try:
        return json.loads(data.decode("utf-8")), source
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(source, "", f"malformed JSON: {exc}") from None


def hands_from_dict(document: Any, source: str | Path | None = None) -> dict[int, HandPose]:
    """Parsed ``<key>.hands.json`` -> {hand index: HandPose} (metres; absent sides left out)."""
    if not isinstance(document, dict):
        raise FormatError(source, "<root>", f"expected a JSON object, got {type(document).__name__}")
    poses = {}
    for side, hand in _SIDES:
        entry = document.get(side)
        if entry is None:
            continue
        if not isinstance(entry, dict):
            raise FormatError(source, side, f"expected a JSON object or null, got {type(entry).__name__}")
        pose = entry.get("umetrack_pose")
        if pose is None:  # the toolkit treats a side without a UmeTrack pose as having none
            continue
        parent = f"{side}.umetrack_pose"
        angles = joint_angles_22(array_field(pose, "joint_angles", (None,), source, parent), source, f"{parent}.joint_angles")
        if isinstance(pose, dict) and "T_world_from_wrist" in pose:
            T = pose_from_dict(pose["T_world_from_wrist"], source, f"{parent}.T_world_from_wrist")
        elif isinstance(pose, dict) and "wrist_xform" in pose:
            T = torch.as_tensor(array_field(pose, "wrist_xform", (4, 4), source, parent))
        else:
            raise FormatError(source, f"{parent}.T_world_from_wrist", "missing (nor a 4x4 wrist_xform)")
        try:
            poses[hand] = HandPose(hand, torch.as_tensor(angles), T, 1.0).validated(f"{source}: {parent}")
        except InvalidPoseError as exc:
            raise FormatError(source, parent, str(exc)) from None
    return poses


def read_challenge_tar(path: str | Path, cache_frames: int = DEFAULT_CACHE_FRAMES) -> Recording:
    """Read one challenge / HOT3D-clips sequence tar (format in the module docstring).

    Raises:
        FormatError: naming ``<tar>:<member>`` and the field, for an unreadable tar, a frame without
            ``cameras.json`` or without an image of a camera, streams or intrinsics that change
            between frames, or malformed JSON content.
    """
    path = Path(path)
    members, shapes_info = _index_members(path)
    if not members:
        raise FormatError(path, "", "no frames (no '<key>.cameras.json' / '<key>.image_*.jpg' members)")
    for key in members:
        if not key.isdigit():
            raise FormatError(path, f"{key}.cameras.json", "frame keys must be frame numbers")
    keys = sorted(members, key=int)

    views: list[str] = []
    models = []
    T_world_from_camera = []
    image_members = []
    hand_frames: list[dict[int, HandPose]] = []
    any_hands = False
    hand_model = None
    with open(path, "rb") as handle:
        for key in keys:
            entries = members[key]
            if "cameras.json" not in entries:
                raise FormatError(path, f"{key}.cameras.json", "missing member")
            document, source = _read_json_member(handle, path, entries["cameras.json"])
            cameras = challenge_cameras_from_dict(document, source)
            if not views:
                views = sorted(cameras, key=_stream_order)
                models = [cameras[s].model for s in views]
                if not views:
                    raise FormatError(source, "<root>", "no cameras")
            if sorted(cameras, key=_stream_order) != views:
                raise FormatError(source, "<root>", f"streams {sorted(cameras)} differ from the first frame's {views}")
            for stream, model in zip(views, models):
                other = cameras[stream].model
                same = (other.kind, other.width, other.height) == (model.kind, model.width, model.height) and np.allclose(
                    [other.fx, other.fy, other.cx, other.cy, *other.distortion],
                    [model.fx, model.fy, model.cx, model.cy, *model.distortion],
                    rtol=_INTRINSICS_TOLERANCE,
                    atol=_INTRINSICS_TOLERANCE,
                )
                if not same:
                    raise FormatError(source, f"{stream}.calibration", "intrinsics change during the sequence (not supported)")
            T_world_from_camera.append(np.stack([cameras[s].T_world_from_camera.numpy() for s in views]))
            frame_images = []
            for stream in views:
                info = entries.get(f"image_{stream}.jpg")
                if info is None:
                    raise FormatError(path, f"{key}.image_{stream}.jpg", "missing member")
                frame_images.append((info.name, info.offset_data, info.size))
            image_members.append(frame_images)
            if "hands.json" in entries:
                any_hands = True
                document, source = _read_json_member(handle, path, entries["hands.json"])
                hand_frames.append(hands_from_dict(document, source))
            else:
                hand_frames.append({})
        if shapes_info is not None:
            document, source = _read_json_member(handle, path, shapes_info)
            if isinstance(document, dict) and document.get("umetrack") is not None:
                hand_model = hand_model_from_dict(document["umetrack"], source, "umetrack")

    T = np.stack(T_world_from_camera)
    return Recording(
        name=path.stem,
        timestamps_ns=np.round(np.array([int(k) for k in keys]) * (1e9 / CLIP_FPS)).astype(np.int64),
        view_labels=tuple(views),
        camera_models=tuple(models),
        T_world_from_camera=T,
        headset_tracked=np.ones(len(keys), dtype=bool),
        frames=TarFrameSource(path, image_members, [(m.width, m.height) for m in models], cache_frames),
        hand_model=hand_model,
        gt=HandTrajectory.from_poses(hand_frames) if any_hands else None,
        source=path,
    )
