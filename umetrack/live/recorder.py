"""Record a live source to the UmeTrack raw layout while it runs.

``LiveRecorder.add(frame)`` never blocks the caller: frames go through a bounded queue to a writer
thread that encodes them straight into the video (``write_video``, under a temporary name next to
the target), so a long session holds at most ``max_queued_frames`` frames in memory, plus ~1 KB of
labels per frame (camera poses, ground truth). ``finish()`` writes the labels and renames both files
into place through ``write_umetrack_raw(..., encoded_video=...)``; the player then opens the result
like any recording (``open_recording``). If the encoder falls behind by more than the queue, frames
are dropped and counted (``frames_dropped``), never buffered without bound.

A view that had no frame (camera unplugged or stalled) is written black into the video and listed
in the side file ``recording.live.json`` next to the labels (format: ``umetrack.recording.umetrack_raw``),
so reading the recording gives those views back as missing (None), not as black pictures.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import numpy as np

from umetrack.fileio import atomic_write_json, new_temporary_sibling
from umetrack.recording.model import HandTrajectory, Recording
from umetrack.recording.umetrack_raw import LiveRecordInfo, live_info_document, live_info_path, raw_paths, write_umetrack_raw
from umetrack.recording.video import VideoFrameSource, write_video
from umetrack.live.sources import LiveFrame, LiveRig

LIVE_CRF = 18
"""Visually lossless for camera images at a fraction of the default's size and encoding time."""
LIVE_PRESET = "veryfast"
"""Fast enough to encode four 640x480 views in real time on two busy CPU cores."""
_END = object()


class LiveRecorder:
    """Streams live frames into a UmeTrack raw recording (see the module docstring).

    Args:
        rig: the source's rig (cameras, crop rolls, fps, hand model if known).
        out: the recording's path stem (``.../recording_00``; a .mp4/.json suffix is stripped).
        source_name: stored in the side file.
        has_ground_truth: store the frames' GT poses (the source knows them).
        max_queued_frames: frames waiting for the encoder before new ones are dropped.

    Not thread-safe: one thread calls ``add`` and then ``finish`` (or ``abort``).
    """

    def __init__(
        self,
        rig: LiveRig,
        out: str | Path,
        source_name: str,
        has_ground_truth: bool = False,
        crf: int = LIVE_CRF,
        preset: str = LIVE_PRESET,
        max_queued_frames: int = 60,
    ):
        self.rig = rig
        self.video_path, self.labels_path, _pinch = raw_paths(out)
        self.source_name = source_name
        self.has_ground_truth = has_ground_truth
        self.frames_dropped = 0
        self.error: Exception | None = None
        self._black = [np.zeros((m.height, m.width), np.uint8) for m in rig.models]
        self._timestamps: list[int] = []
        self._indices: list[int] = []
        self._T: list[np.ndarray] = []
        self._gt: list[dict] = []
        self._missing: list[tuple[bool, ...]] = []
        self._queue: queue.Queue = queue.Queue(maxsize=max_queued_frames)
        self._video_tmp = new_temporary_sibling(self.video_path)
        self._finished = False
        self._thread = threading.Thread(target=self._encode, args=(crf, preset), name="live recorder", daemon=True)
        self._thread.start()

    @property
    def num_frames(self) -> int:
        """Frames recorded so far."""
        return len(self._timestamps)

    def _queued_frames(self):
        while (views := self._queue.get()) is not _END:
            yield views

    def _encode(self, crf: int, preset: str) -> None:
        try:
            write_video(self._video_tmp, self._queued_frames(), self.rig.fps, crf=crf, preset=preset)
        except Exception as exc:  # noqa: BLE001 - reported by add() and finish() on the caller's thread
            self.error = exc
            while self._queue.get() is not _END:  # let add() and finish() go on without blocking
                pass

    def add(self, frame: LiveFrame) -> bool:
        """Queue a frame for writing; False when it was dropped (the encoder is behind, or failed)."""
        if self._finished:
            raise RuntimeError("the recording is finished")
        if self._timestamps and frame.timestamp_ns <= self._timestamps[-1]:
            raise ValueError(f"frame {frame.index}: timestamps must increase")
        views = [self._black[v] if image is None else image for v, image in enumerate(frame.images)]
        if self.error is not None:
            self.frames_dropped += 1
            return False
        try:
            self._queue.put_nowait(views)
        except queue.Full:
            self.frames_dropped += 1
            return False
        self._timestamps.append(int(frame.timestamp_ns))
        self._indices.append(int(frame.index))
        self._T.append(np.asarray(frame.T_world_from_camera, dtype=np.float64))
        self._gt.append(dict(frame.gt) if self.has_ground_truth else {})
        self._missing.append(tuple(image is None for image in frame.images))
        return True

    def _stop_writer(self) -> None:
        self._finished = True
        self._queue.put(_END)  # the writer always drains the queue, so this returns
        self._thread.join()

    def abort(self) -> None:
        """Stop and delete what was written (nothing is left behind)."""
        if not self._finished:
            self._stop_writer()
        self._video_tmp.unlink(missing_ok=True)

    def finish(self) -> Path:
        """Write the labels and side file and move the video into place; returns the video path.

        Raises ValueError when nothing was recorded, or the encoder's error (files are removed).
        """
        self._stop_writer()
        try:
            if self.error is not None:
                raise self.error
            if not self._timestamps:
                raise ValueError("nothing was recorded")
            frames = VideoFrameSource(self._video_tmp, [(m.width, m.height) for m in self.rig.models])
            n = len(self._timestamps)
            recording = Recording(
                name=self.video_path.stem,
                timestamps_ns=np.asarray(self._timestamps, dtype=np.int64),
                view_labels=self.rig.labels,
                camera_models=self.rig.models,
                T_world_from_camera=np.stack(self._T),
                headset_tracked=np.ones(n, dtype=bool),
                frames=frames,
                camera_angles_deg=self.rig.camera_angles_deg,
                hand_model=self.rig.hand_model,
                gt=HandTrajectory.from_poses(self._gt) if self.has_ground_truth else None,
            )
            with recording:
                write_umetrack_raw(recording, self.video_path, encoded_video=self._video_tmp)
        finally:
            self._video_tmp.unlink(missing_ok=True)
        info = LiveRecordInfo(self.source_name, tuple(self.rig.labels), np.asarray(self._missing, dtype=bool).reshape(n, len(self.rig.labels)),
                              np.asarray(self._indices, dtype=np.int64), self.frames_dropped)  # fmt: skip
        atomic_write_json(live_info_path(self.video_path), live_info_document(info))
        return self.video_path
