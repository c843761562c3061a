"""Seekable video of side-by-side views (UmeTrack raw data layout), read and written with PyAV.

Layout (data_formats.md §2): one video stream; frame i is an H x (V * W) image holding the V views
side by side, view 0 leftmost; view v = columns [v W, (v + 1) W).

Reading (``VideoFrameSource``):
* On open, every packet is demuxed once (no decoding) to index the presentation timestamps and
  keyframes; frame i is the i-th smallest pts. That makes frame access exact (no reliance on fps
  arithmetic) and catches a truncated file or a frame count that disagrees with the container
  header before playback starts, as a FormatError. Frame 0 is decoded once to check the codec and size.
* ``read(i)`` continues decoding forward when frame i lies ahead in the current GOP, otherwise
  seeks to the keyframe at or before i and decodes forward to it. Every frame decoded on the way is
  put in the LRU cache, so stepping backwards through the last GOP costs nothing.
* Pixels: full-range YUV (what ``write_video`` produces) gives the luma plane as is (exact and
  fastest). Any other pixel format is converted to RGB and channel 0 is kept, exactly like the
  released UmeTrack loader, so real UmeTrack videos read with the values the network was trained on.
* A packet that fails to decode raises FormatError naming the file and the frame (the next read
  seeks afresh), never a crash in the middle of playback.

Writing (``write_video``), chosen to keep grayscale camera images faithful and random access fast:
* H.264 via libx264 (bundled in PyAV's wheels), ``yuv420p`` tagged **full range** (``color_range``
  JPEG): the luma plane carries the 8-bit gray values 1:1 and the chroma planes stay at 128.
  (libx264 ``gray`` output is decoded with a range shift of ~6 levels by FFmpeg, and limited-range
  yuv420p squeezes 256 levels into 220, so neither is used.) Decodable by FFmpeg, OpenCV and
  UmeTrack's own loader (R = G = B = gray).
* ``crf`` 10 by default (near-transparent; mean absolute error ~0.8 gray levels on noisy camera-like
  content, about half the size of lossless); ``crf=0`` is mathematically lossless (larger files).
* Keyframe every 15 frames (``g`` = ``keyint_min`` = 15; x264 may add scene-cut keyframes), no
  B-frames: a random seek decodes at most 14 extra frames and decode order equals display order.
* Odd widths/heights (yuv420p needs even) are padded by repeating the last column/row; readers crop
  back to the layout given by the calibration.
* Colour frames ((H, W, 3) RGB, e.g. the app's video export of what its panels show) go through
  swscale to standard limited-range BT.601 yuv420p, which every player shows with the right colours.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from umetrack.errors import FormatError
from umetrack.recording.frames import DEFAULT_CACHE_FRAMES, FrameSource, Views, freeze

DEFAULT_CRF = 10
DEFAULT_KEYFRAME_INTERVAL = 15
DEFAULT_PRESET = "medium"
VIDEO_CACHE_FRAMES = 2 * DEFAULT_KEYFRAME_INTERVAL + 2
"""Two GOPs: scrubbing backwards through the GOP just decoded never seeks."""

_FULL_RANGE = 2  # AVCOL_RANGE_JPEG
_LUMA_FORMATS = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21"})
"""8-bit formats whose plane 0 is luma; full range (or a j format) makes it the gray image exactly."""


def _reason(exc: Exception) -> str:
    """FFmpeg's message without the file name PyAV appends (our errors name the file already)."""
    return getattr(exc, "strerror", None) or str(exc)


class VideoFrameSource(FrameSource):
    """Random access to the views of a side-by-side video.

    Args:
        path: the video file.
        view_sizes: (width, height) per view from calibration; all heights must be equal. The
            decoded frame must be sum(widths) x height (one extra padding column/row is cropped).
        cache_frames: LRU cache size in frames (each frame costs H * V * W bytes).

    Raises:
        FormatError: missing file, not a video, truncated or unindexable stream, wrong frame size.
    """

    def __init__(self, path: str | Path, view_sizes: Iterable[tuple[int, int]], cache_frames: int = VIDEO_CACHE_FRAMES):
        sizes = [tuple(s) for s in view_sizes]
        super().__init__(0, sizes, cache_frames)
        self.path = Path(path)
        if len({h for _, h in self.view_sizes}) != 1:
            raise FormatError(self.path, "", f"views side by side must share one height, got sizes {self.view_sizes}")
        self._height = self.view_sizes[0][1]
        self._widths = [w for w, _ in self.view_sizes]
        self._container = self._open()
        try:
            self._stream = self._container.streams.video[0]
            self._index_packets()
            self._iterator = None
            self._next_index: int | None = None  # index the running decoder yields next
            self.read(0)  # checks codec and frame size now rather than in the middle of playback
        except BaseException:
            self._container.close()
            raise

    # ---------------------------------------------------------------------------------------
    # Opening and indexing

    def _open(self):
        if not self.path.is_file():
            raise FormatError(self.path, "", "file not found")
        try:
            container = av.open(str(self.path), mode="r")
        except av.error.FFmpegError as exc:
            raise FormatError(self.path, "", f"cannot open video (truncated, corrupt or not a video): {_reason(exc)}") from None
        if not container.streams.video:
            container.close()
            raise FormatError(self.path, "", "no video stream")
        return container

    def _index_packets(self) -> None:
        pts, keyframe = [], []
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0:  # the demuxer's end-of-stream flush packet
                    continue
                if packet.pts is None:
                    raise FormatError(self.path, f"packet {len(pts)}", "packet without a timestamp; the video cannot be seeked")
                pts.append(packet.pts)
                keyframe.append(packet.is_keyframe)
        except av.error.FFmpegError as exc:
            raise FormatError(self.path, f"packet {len(pts)}", f"corrupt or truncated video: {_reason(exc)}") from None
        if not pts:
            raise FormatError(self.path, "", "the video stream has no frames")
        header_frames = int(self._stream.frames or 0)
        if header_frames and header_frames != len(pts):
            raise FormatError(self.path, "", f"truncated video: the header lists {header_frames} frames, only {len(pts)} are present")
        order = np.argsort(np.asarray(pts, dtype=np.int64), kind="stable")
        self._pts = np.asarray(pts, dtype=np.int64)[order]
        if (np.diff(self._pts) == 0).any():
            raise FormatError(self.path, "", "two frames share one timestamp; frame order is ambiguous")
        self._frame_of_pts = {int(p): i for i, p in enumerate(self._pts)}
        is_key = np.asarray(keyframe, dtype=bool)[order]
        if not is_key[0]:
            raise FormatError(self.path, "frame 0", "the first frame is not a keyframe; the video cannot be decoded from its start")
        # keyframe_before[i]: the last keyframe at or before frame i (where a seek for i lands).
        self._keyframe_before = np.maximum.accumulate(np.where(is_key, np.arange(len(is_key)), 0))
        self.num_frames = len(self._pts)

    # ---------------------------------------------------------------------------------------
    # Decoding

    def _decode(self, index: int) -> Views:
        if self._container is None:
            raise ValueError(f"{self.path}: the video source is closed")
        forward = self._next_index is not None and self._keyframe_before[index] <= self._next_index <= index
        if not forward:
            self._seek(index)
        try:
            for frame in self._iterator:
                decoded = self._frame_of_pts.get(frame.pts) if frame.pts is not None else None
                if decoded is None:
                    continue  # e.g. a frame the demuxer did not list; never returned
                views = self._split(frame)
                self._next_index = decoded + 1
                self._remember(decoded, views)
                if decoded == index:
                    return views
                if decoded > index:
                    break
        except av.error.FFmpegError as exc:
            self._next_index = None
            raise FormatError(self.path, f"frame {index}", f"cannot decode: {_reason(exc)}") from None
        self._next_index = None
        raise FormatError(self.path, f"frame {index}", "frame could not be decoded (corrupt or truncated video)")

    def _seek(self, index: int) -> None:
        keyframe = int(self._keyframe_before[index])
        try:
            # Seeking to the keyframe's own pts (backward=True: at or before) lands exactly on it.
            self._container.seek(int(self._pts[keyframe]), stream=self._stream, backward=True, any_frame=False)
        except av.error.FFmpegError as exc:
            raise FormatError(self.path, f"frame {index}", f"seek failed: {_reason(exc)}") from None
        self._iterator = self._container.decode(self._stream)
        self._next_index = keyframe

    def _gray(self, frame: "av.VideoFrame") -> np.ndarray:
        name = frame.format.name
        if name.startswith("yuvj") or (name in _LUMA_FORMATS and frame.color_range == _FULL_RANGE):
            plane = frame.planes[0]
            return np.frombuffer(plane, dtype=np.uint8).reshape(frame.height, plane.line_size)[:, : frame.width]
        return frame.to_ndarray(format="rgb24")[..., 0]  # the released loader's choice (channel 0 of RGB)

    def _split(self, frame: "av.VideoFrame") -> Views:
        image = self._gray(frame)
        width = sum(self._widths)
        if not (0 <= image.shape[0] - self._height <= 1 and 0 <= image.shape[1] - width <= 1):
            raise FormatError(
                self.path, "", f"frames are {image.shape[1]}x{image.shape[0]}, calibration says {len(self._widths)} views of total size {width}x{self._height}"
            )
        views, x = [], 0
        for w in self._widths:
            # A copy: never a view into the decoder's frame buffer, which FFmpeg reuses.
            views.append(freeze(np.array(image[: self._height, x : x + w], copy=True)))
            x += w
        return tuple(views)

    def close(self) -> None:
        with self._lock:
            super().close()
            if self._container is not None:
                self._container.close()
                self._container = None


def write_video(
    path: str | Path,
    frames: Iterable[Views],
    fps: float,
    *,
    crf: int = DEFAULT_CRF,
    keyframe_interval: int = DEFAULT_KEYFRAME_INTERVAL,
    preset: str = DEFAULT_PRESET,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Encode views side by side into an H.264 mp4 (settings in the module docstring).

    Writes ``path`` directly (callers wanting atomicity pass a temporary name). Returns the number
    of frames written.

    Args:
        frames: per frame, the uint8 (H, W_v) gray views, or (H, W_v, 3) RGB views (equal heights,
            sizes and kind constant over frames).
        fps: nominal frame rate (> 0) stored in the container.
        crf: x264 constant rate factor, 0 (lossless) .. 51.
        keyframe_interval: frames between keyframes (also the worst-case seek cost).
        progress: called with the number of frames written so far.
    """
    if not 0 <= crf <= 51:
        raise ValueError(f"crf must lie in 0..51, got {crf}")
    if keyframe_interval < 1:
        raise ValueError(f"keyframe_interval must be >= 1, got {keyframe_interval}")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    rate = Fraction(fps).limit_denominator(1001)
    container = av.open(str(path), mode="w", format="mp4")
    count = 0
    try:
        stream = None
        for views in frames:
            image = np.hstack([np.asarray(v, dtype=np.uint8) for v in views])
            if stream is None:
                shape = image.shape
                stream = container.add_stream("libx264", rate=rate)
                stream.width, stream.height = shape[1] + shape[1] % 2, shape[0] + shape[0] % 2
                stream.pix_fmt = "yuv420p"
                if image.ndim == 2:  # gray: luma carries the values 1:1 (module docstring)
                    stream.codec_context.color_range = _FULL_RANGE
                stream.codec_context.options = {
                    "crf": str(crf),
                    "preset": preset,
                    "g": str(keyframe_interval),
                    "keyint_min": str(keyframe_interval),
                    "bf": "0",
                }
            elif image.shape != shape:
                raise ValueError(f"frame {count}: views total {image.shape[1]}x{image.shape[0]}, frame 0 had {shape[1]}x{shape[0]}")
            if image.shape[:2] != (stream.height, stream.width):
                padding = ((0, stream.height - image.shape[0]), (0, stream.width - image.shape[1])) + ((0, 0),) * (image.ndim - 2)
                image = np.pad(image, padding, mode="edge")
            if image.ndim == 2:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="gray")
                frame.color_range = _FULL_RANGE
            else:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = count
            frame.time_base = 1 / rate
            for packet in stream.encode(frame):
                container.mux(packet)
            count += 1
            if progress is not None:
                progress(count)
        if stream is None:
            raise ValueError("no frames to write")
        for packet in stream.encode():
            container.mux(packet)
    finally:
        container.close()
    with open(path, "rb+") as handle:  # durable before the caller renames it into place
        os.fsync(handle.fileno())
    return count
