"""UmeTrack raw data: ``recording_YY.mp4`` + ``recording_YY.json`` (data_formats.md §2-3), read and written.

Labels (millimetres on disk, converted to metres once here; N frames, V views):

=============================  ===================  ==============================================
key                            shape                meaning
=============================  ===================  ==============================================
cameras                        V camera dicts       intrinsics (cameras.md §5)
camera_angles                  (V,)                 crop roll per view, degrees
camera_to_world_transforms     (N, V, 4, 4)         camera -> world, mm; all zeros = headset untracked
hand_model                     model dict           the subject's left-hand model, mm (optional here)
joint_angles                   (N, 2, 22)           radians
wrist_transforms               (N, 2, 4, 4)         hand-local -> world, mm (right hand: right convention)
hand_confidences               (N, 2)               > 0: ground truth present
timestamps_ns (extension)      (N,)                 written by us; absent in released data -> i * 1e9 / fps
view_labels (extension)        (V,)                 written by us; absent -> "0".."V-1"
=============================  ===================  ==============================================

The released loader reads only the keys it knows, so the two extension keys keep our files
readable by it. The video holds the V views side by side (``umetrack.recording.video``); its frame
count must equal N. Released recordings are 30 fps (the rate used when timestamps are absent).

Pinch labels (not part of the released format) live in a side file ``recording_YY.pinch.json``::

    {"format": "umetrack-studio.pinch", "version": 1, "num_frames": N,
     "left": [[start, end], ...], "right": [[start, end], ...]}

where each pair is a half-open [start, end) interval of frame indices in which that hand pinches
(0 <= start < end <= N, sorted, non-overlapping). It is read when present next to the labels.

Live recordings (``umetrack.live.LiveRecorder``) add a side file ``recording_YY.live.json``::

    {"format": "umetrack-studio.live", "version": 1, "source": "simulated headset (seed 0, 4 views)",
     "num_frames": N, "view_labels": ["0", "1", ...],
     "missing": [[[start, end], ...], ...],      # per view, half-open [start, end) frame intervals
     "source_frame_index": [i0, i1, ...],        # the source's frame index of each recorded frame
     "frames_dropped": 3}                         # frames the recorder could not keep up with

A view listed as missing had no frame (camera unplugged or stalled); the video holds a black stand-in
there. Read when present: those views come back as missing (``Recording.missing_views``; None images).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from umetrack.camera.io import camera_model_from_umetrack_dict, camera_model_to_umetrack_dict
from umetrack.errors import FormatError
from umetrack.fileio import array_field, atomic_write_json, new_temporary_sibling, read_json, require
from umetrack.hand.io import MM_PER_M, hand_model_from_dict, hand_model_to_dict
from umetrack.hand.model import HAND_NAMES
from umetrack.metrics import events_to_frames, frames_to_events
from umetrack.recording.frames import ImagesUnavailableError
from umetrack.recording.model import NUM_HANDS, HandTrajectory, PinchLabels, Recording, check_rigid_frames
from umetrack.recording.video import DEFAULT_CRF, DEFAULT_KEYFRAME_INTERVAL, DEFAULT_PRESET, VIDEO_CACHE_FRAMES, VideoFrameSource, write_video

RAW_FPS = 30.0
PINCH_FORMAT = "umetrack-studio.pinch"
PINCH_VERSION = 1
LIVE_FORMAT = "umetrack-studio.live"
LIVE_VERSION = 1
_SUFFIXES = (".mp4", ".json")


def raw_paths(path: str | Path) -> tuple[Path, Path, Path]:
    """(video, labels, pinch side file) for ``recording_YY.mp4``, ``recording_YY.json`` or the stem."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix.lower() in _SUFFIXES else path
    return stem.with_name(stem.name + ".mp4"), stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".pinch.json")


def _scale_translation(T: np.ndarray, factor: float) -> np.ndarray:
    """Copy of (..., 4, 4) transforms with the translation column multiplied (mm <-> m)."""
    out = np.array(T, dtype=np.float64, copy=True)
    out[..., :3, 3] *= factor
    return out


# ---------------------------------------------------------------------------------------------
# Reading


def read_umetrack_raw(path: str | Path, cache_frames: int = VIDEO_CACHE_FRAMES) -> Recording:
    """Read a raw-data recording (give the .mp4, the .json or their common stem).

    Raises:
        FormatError: naming the file and field for a missing or malformed labels file, wrong
            shapes, NaN, non-rigid transforms of tracked frames / present hands, a missing, corrupt
            or truncated video, or a video frame count other than the label count.
    """
    video_path, labels_path, pinch_path = raw_paths(path)
    doc = read_json(labels_path)
    src = labels_path
    entries = require(doc, "cameras", src)
    if not isinstance(entries, list) or not entries:
        raise FormatError(src, "cameras", "expected a non-empty list of camera dicts")
    models = tuple(camera_model_from_umetrack_dict(entry, src, f"cameras[{i}]") for i, entry in enumerate(entries))
    v = len(models)
    angles = array_field(doc, "camera_angles", (v,), src)
    T_mm = array_field(doc, "camera_to_world_transforms", (None, v, 4, 4), src)
    n = len(T_mm)
    if n == 0:
        raise FormatError(src, "camera_to_world_transforms", "no frames")
    tracked = T_mm.reshape(n, -1).any(axis=1)
    check_rigid_frames(T_mm, np.broadcast_to(tracked[:, None], (n, v)), src, "camera_to_world_transforms")
    joint_angles = array_field(doc, "joint_angles", (n, NUM_HANDS, 22), src)
    wrists_mm = array_field(doc, "wrist_transforms", (n, NUM_HANDS, 4, 4), src)
    confidence = array_field(doc, "hand_confidences", (n, NUM_HANDS), src)
    check_rigid_frames(wrists_mm, confidence > 0, src, "wrist_transforms")
    hand_model = hand_model_from_dict(doc["hand_model"], src, "hand_model") if "hand_model" in doc else None
    if "timestamps_ns" in doc:
        timestamps = array_field(doc, "timestamps_ns", (n,), src, dtype=np.int64)
        if (np.diff(timestamps) <= 0).any():
            raise FormatError(src, "timestamps_ns", "timestamps must be strictly increasing")
    else:
        timestamps = np.round(np.arange(n) * (1e9 / RAW_FPS)).astype(np.int64)
    labels = doc.get("view_labels", [str(i) for i in range(v)])
    if not (isinstance(labels, list) and len(labels) == v and all(isinstance(x, str) for x in labels)):
        raise FormatError(src, "view_labels", f"expected {v} strings")
    pinch = read_pinch_labels(pinch_path, n) if pinch_path.exists() else None
    live_path = live_info_path(labels_path)
    missing_views = _missing_views(read_live_info(live_path), n, v, live_path) if live_path.exists() else None

    frames = VideoFrameSource(video_path, [(m.width, m.height) for m in models], cache_frames)
    if frames.num_frames != n:
        frames.close()
        raise FormatError(video_path, "frames", f"the video has {frames.num_frames} frames but {labels_path.name} labels {n}")
    try:
        return Recording(
            name=labels_path.stem,
            timestamps_ns=timestamps,
            view_labels=tuple(labels),
            camera_models=models,
            T_world_from_camera=_scale_translation(T_mm, 1.0 / MM_PER_M),
            headset_tracked=tracked,
            frames=frames,
            camera_angles_deg=tuple(angles),
            hand_model=hand_model,
            gt=HandTrajectory(joint_angles, _scale_translation(wrists_mm, 1.0 / MM_PER_M), confidence),
            pinch=pinch,
            source=labels_path,
            missing_views=missing_views,
        )
    except BaseException:
        frames.close()
        raise


def read_pinch_labels(path: str | Path, num_frames: int) -> PinchLabels:
    """Read a pinch side file (format in the module docstring) for a recording of ``num_frames``."""
    doc = read_json(path)
    fmt = require(doc, "format", path)
    if fmt != PINCH_FORMAT:
        raise FormatError(path, "format", f"expected {PINCH_FORMAT!r}, got {fmt!r}")
    version = require(doc, "version", path)
    if version != PINCH_VERSION:
        raise FormatError(path, "version", f"unsupported version {version!r} (this reader knows {PINCH_VERSION})")
    stored = int(array_field(doc, "num_frames", (), path, dtype=np.int64))
    if stored != num_frames:
        raise FormatError(path, "num_frames", f"labels {stored} frames, the recording has {num_frames}")
    events = {}
    for hand, name in enumerate(HAND_NAMES):
        stored_intervals = require(doc, name, path)
        if not isinstance(stored_intervals, list):
            raise FormatError(path, name, "expected a list of [start, end] pairs")
        # An empty list has shape (0,), not (0, 2): only parse a non-empty one.
        intervals = array_field(doc, name, (None, 2), path, dtype=np.int64) if stored_intervals else np.zeros((0, 2), np.int64)
        if len(intervals) and ((intervals[:, 0] < 0) | (intervals[:, 1] <= intervals[:, 0]) | (intervals[:, 1] > num_frames)).any():
            raise FormatError(path, name, f"intervals must satisfy 0 <= start < end <= {num_frames}")
        if len(intervals) > 1 and (intervals[1:, 0] < intervals[:-1, 1]).any():
            raise FormatError(path, name, "intervals must be sorted and non-overlapping")
        events[hand] = [tuple(map(int, pair)) for pair in intervals]
    return PinchLabels.from_events(events, num_frames)


def live_info_path(path: str | Path) -> Path:
    """The side file of a live recording (``recording_YY.live.json``), given its .mp4, .json or stem."""
    video, _labels, _pinch = raw_paths(path)
    return video.with_name(video.stem + ".live.json")


@dataclass(frozen=True, eq=False)
class LiveRecordInfo:
    """What a live recording's side file says.

    Attributes:
        source: the live source's name.
        view_labels: (V,) view names.
        missing: (N, V) bool, the view had no frame (the video holds a black stand-in).
        source_frame_index: (N,) int64, the source's frame index of each recorded frame.
        frames_dropped: frames the recorder dropped because the encoder fell behind.
    """

    source: str
    view_labels: tuple[str, ...]
    missing: np.ndarray
    source_frame_index: np.ndarray
    frames_dropped: int

    @property
    def num_frames(self) -> int:
        return len(self.missing)


def read_live_info(path: str | Path) -> LiveRecordInfo:
    """Read the side file of a live recording (give the recording's .mp4, .json, stem or the side file)."""
    path = Path(path)
    side = path if path.name.endswith(".live.json") else live_info_path(path)
    doc = read_json(side)
    if require(doc, "format", side) != LIVE_FORMAT:
        raise FormatError(side, "format", f"expected {LIVE_FORMAT!r}, got {doc['format']!r}")
    if require(doc, "version", side) != LIVE_VERSION:
        raise FormatError(side, "version", f"unsupported version {doc['version']!r} (this reader knows {LIVE_VERSION})")
    n = int(array_field(doc, "num_frames", (), side, dtype=np.int64))
    labels = require(doc, "view_labels", side)
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise FormatError(side, "view_labels", "expected a non-empty list of strings")
    stored = require(doc, "missing", side)
    if not isinstance(stored, list) or len(stored) != len(labels):
        raise FormatError(side, "missing", f"expected one interval list per view ({len(labels)})")
    missing = np.zeros((n, len(labels)), dtype=bool)
    for view, intervals in enumerate(stored):
        field = f"missing[{view}]"
        if not isinstance(intervals, list) or any(not isinstance(pair, list) or len(pair) != 2 for pair in intervals):
            raise FormatError(side, field, "expected a list of [start, end] pairs")
        try:
            missing[:, view] = events_to_frames([tuple(int(x) for x in pair) for pair in intervals], n)
        except (TypeError, ValueError) as exc:
            raise FormatError(side, field, str(exc)) from None
    indices = array_field(doc, "source_frame_index", (n,), side, dtype=np.int64)
    dropped = int(array_field(doc, "frames_dropped", (), side, dtype=np.int64))
    return LiveRecordInfo(str(require(doc, "source", side)), tuple(labels), missing, indices, dropped)


def live_info_document(info: LiveRecordInfo) -> dict[str, Any]:
    """The side file's JSON document (format in the module docstring)."""
    missing = np.asarray(info.missing, dtype=bool)
    return {
        "format": LIVE_FORMAT,
        "version": LIVE_VERSION,
        "source": info.source,
        "num_frames": int(missing.shape[0]),
        "view_labels": list(info.view_labels),
        "missing": [[[e.start, e.end] for e in frames_to_events(missing[:, v])] for v in range(missing.shape[1])],
        "source_frame_index": [int(i) for i in info.source_frame_index],
        "frames_dropped": int(info.frames_dropped),
    }


def _missing_views(info: LiveRecordInfo, num_frames: int, num_views: int, path: Path) -> np.ndarray:
    """The side file's missing views, checked against the recording they describe."""
    if info.num_frames != num_frames:
        raise FormatError(path, "num_frames", f"describes {info.num_frames} frames, the recording has {num_frames}")
    if len(info.view_labels) != num_views:
        raise FormatError(path, "view_labels", f"describes {len(info.view_labels)} views, the recording has {num_views}")
    return info.missing


# ---------------------------------------------------------------------------------------------
# Writing


def labels_document(recording: Recording) -> dict[str, Any]:
    """The labels JSON document (mm) of ``recording`` (format in the module docstring).

    Untracked frames are written as all-zero camera transforms; without GT every hand is written
    absent (zero transforms, confidence 0); ``hand_model`` is omitted when the recording has none
    (the released loader requires it).
    """
    n, v = recording.num_frames, recording.num_views
    T = _scale_translation(recording.T_world_from_camera, MM_PER_M)
    T[~recording.headset_tracked] = 0.0
    gt = recording.gt
    doc: dict[str, Any] = {
        "cameras": [camera_model_to_umetrack_dict(m) for m in recording.camera_models],
        "camera_angles": list(recording.camera_angles_deg),
        "camera_to_world_transforms": T.tolist(),
    }
    if recording.hand_model is not None:
        doc["hand_model"] = hand_model_to_dict(recording.hand_model)
    doc["joint_angles"] = (gt.joint_angles if gt else np.zeros((n, NUM_HANDS, 22))).tolist()
    doc["wrist_transforms"] = (_scale_translation(gt.T_world_from_wrist, MM_PER_M) if gt else np.zeros((n, NUM_HANDS, 4, 4))).tolist()
    doc["hand_confidences"] = (gt.confidence if gt else np.zeros((n, NUM_HANDS))).tolist()
    doc["timestamps_ns"] = [int(t) for t in recording.timestamps_ns]
    doc["view_labels"] = list(recording.view_labels)
    return doc


def pinch_document(pinch: PinchLabels) -> dict[str, Any]:
    """The pinch side-file document (format in the module docstring)."""
    doc: dict[str, Any] = {"format": PINCH_FORMAT, "version": PINCH_VERSION, "num_frames": pinch.num_frames}
    for hand, name in enumerate(HAND_NAMES):
        doc[name] = [[e.start, e.end] for e in pinch.events(hand)]
    return doc


def _nominal_fps(timestamps_ns: np.ndarray) -> float:
    """Frame rate from the median frame interval (30 for a single frame)."""
    if len(timestamps_ns) < 2:
        return RAW_FPS
    return 1e9 / float(np.median(np.diff(timestamps_ns)))


def write_umetrack_raw(
    recording: Recording,
    out: str | Path,
    *,
    crf: int = DEFAULT_CRF,
    keyframe_interval: int = DEFAULT_KEYFRAME_INTERVAL,
    preset: str = DEFAULT_PRESET,
    progress: Callable[[int], None] | None = None,
    encoded_video: str | Path | None = None,
) -> tuple[Path, Path]:
    """Write ``recording`` as UmeTrack raw data; returns (video path, labels path).

    Args:
        out: an existing folder (files named after ``recording.name``) or a path stem
            (``.../recording_00``; a ``.mp4``/``.json`` suffix is stripped).
        crf, keyframe_interval, preset: video settings (``umetrack.recording.video``).
        progress: optional callable receiving the number of frames encoded so far.
        encoded_video: the recording's video, already encoded with ``write_video`` (the live
            recorder streams it to disk while frames arrive), as a ``new_temporary_sibling`` of the
            target video path: it is renamed into place instead of encoding the frames again, and
            removed if anything fails.

    Both files are first written completely under temporary names in the target folder, then
    renamed over the final names (video first, then labels; each rename is atomic). The pinch side
    file is written when ``recording.pinch`` is set and a stale one is removed otherwise.
    Existing files are left untouched if anything fails before the renames.

    Raises:
        ImagesUnavailableError: the recording has no images.
        InvalidCameraError: a camera kind the format cannot store (only pinhole and fisheye62).
        ValueError: views of unequal heights.
    """
    if not recording.has_images:
        raise ImagesUnavailableError(f"{recording.name}: no images to write a video from")
    out = Path(out)
    stem = out / recording.name if out.is_dir() else out
    video_path, labels_path, pinch_path = raw_paths(stem)
    labels = labels_document(recording)  # before encoding: an unstorable camera fails fast
    folder = video_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    temporaries = []
    try:
        if encoded_video is not None:
            video_tmp = Path(encoded_video)
            temporaries.append(video_tmp)
            if video_tmp.parent.resolve() != folder.resolve():
                raise ValueError(f"encoded_video must lie in {folder} (the rename into place must be atomic), got {video_tmp}")
        else:
            video_tmp = new_temporary_sibling(video_path)
            temporaries.append(video_tmp)
            write_video(
                video_tmp,
                (recording.filled_images(i) for i in range(recording.num_frames)),
                _nominal_fps(recording.timestamps_ns),
                crf=crf,
                keyframe_interval=keyframe_interval,
                preset=preset,
                progress=progress,
            )
        labels_tmp = new_temporary_sibling(labels_path)
        temporaries.append(labels_tmp)
        atomic_write_json(labels_tmp, labels, indent=None)
        os.replace(video_tmp, video_path)
        os.replace(labels_tmp, labels_path)
    finally:
        for tmp in temporaries:
            tmp.unlink(missing_ok=True)
    if recording.pinch is not None:
        atomic_write_json(pinch_path, pinch_document(recording.pinch))
    else:
        pinch_path.unlink(missing_ok=True)
    live_path = live_info_path(video_path)
    if recording.missing_views is not None and np.asarray(recording.missing_views).any():
        # The black stand-ins in the video must stay marked as missing, or a re-saved recording
        # would feed them to the tracker as real (dark) views. The original source's name and frame
        # indices are not part of a Recording; the re-saved file names the recording instead.
        n = recording.num_frames
        info = LiveRecordInfo(f"re-saved recording {recording.name}", tuple(recording.view_labels),
                              np.asarray(recording.missing_views), np.arange(n), 0)  # fmt: skip
        atomic_write_json(live_path, live_info_document(info))
    else:
        live_path.unlink(missing_ok=True)
    return video_path, labels_path


__all__ = [
    "RAW_FPS",
    "labels_document",
    "live_info_document",
    "pinch_document",
    "raw_paths",
    "read_pinch_labels",
    "read_umetrack_raw",
    "write_umetrack_raw",
]
