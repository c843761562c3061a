"""Frame sources: where a recording's images come from, decoded on demand by frame index.

A ``FrameSource`` returns, for frame i, one uint8 (H, W) grayscale image per view. Frames are
read in any order (a user scrubs backwards) and the few most recent are kept in a small LRU cache;
no source holds a whole recording in memory unless it was handed one (``ArrayFrameSource``).
Returned arrays are read-only views into the cache: copy before editing.

Sources here: ``ArrayFrameSource`` (in-memory arrays, for tests and the synthetic generator),
``TarFrameSource`` (JPEG members of a challenge tar, read lazily through an offset index built
once), ``NoFrameSource`` (a format that ships no images, e.g. HOT3D's per-recording files:
``available`` is False and ``read`` raises ``ImagesUnavailableError``). The seekable video source
lives in ``umetrack.recording.video``.

Sources that hold files are closed by ``close()`` (``Recording.close`` calls it). Reads are
serialised by a lock, so a UI thread and a worker thread may share one source.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from umetrack.errors import FormatError, UmeTrackError

Views = tuple[np.ndarray, ...]
"""One frame: a read-only uint8 (H, W) image per view, in view order."""

DEFAULT_CACHE_FRAMES = 8


class ImagesUnavailableError(UmeTrackError):
    """The recording has no images (e.g. HOT3D per-recording files ship poses and calibration only)."""


def freeze(array: np.ndarray) -> np.ndarray:
    """Mark ``array`` read-only (cached frames are shared between callers) and return it."""
    array.setflags(write=False)
    return array


class FrameSource(ABC):
    """Random-access images of a recording.

    Attributes:
        num_frames: N.
        view_sizes: (width, height) per view, pixels.
        available: False when the source has no images at all (``read`` then raises).
    """

    available: bool = True

    def __init__(self, num_frames: int, view_sizes: Sequence[tuple[int, int]], cache_frames: int = DEFAULT_CACHE_FRAMES):
        self.num_frames = int(num_frames)
        self.view_sizes = tuple((int(w), int(h)) for w, h in view_sizes)
        self._cache: OrderedDict[int, Views] = OrderedDict()
        self._cache_frames = max(0, int(cache_frames))
        self._lock = threading.RLock()

    @property
    def num_views(self) -> int:
        return len(self.view_sizes)

    def read(self, frame: int) -> Views:
        """The images of ``frame`` (0 <= frame < num_frames), one per view.

        Raises:
            IndexError: frame out of range (a caller bug, not bad input).
            FormatError: the underlying file is corrupt at this frame (names the file and frame).
            ImagesUnavailableError: the source has no images.
        """
        index = int(frame)
        if not 0 <= index < self.num_frames:
            raise IndexError(f"frame {frame} out of range 0..{self.num_frames - 1}")
        with self._lock:
            cached = self._cache.get(index)
            if cached is not None:
                self._cache.move_to_end(index)
                return cached
            views = self._decode(index)
            self._remember(index, views)
            return views

    def _remember(self, index: int, views: Views) -> None:
        """Put a decoded frame in the LRU cache (subclasses also store frames decoded on the way)."""
        if self._cache_frames == 0:
            return
        self._cache[index] = views
        self._cache.move_to_end(index)
        while len(self._cache) > self._cache_frames:
            self._cache.popitem(last=False)

    @abstractmethod
    def _decode(self, index: int) -> Views:
        """Decode frame ``index`` (in range; called under the lock, on a cache miss)."""

    def close(self) -> None:
        """Release files (idempotent); the base source holds none."""
        with self._lock:
            self._cache.clear()


class ArrayFrameSource(FrameSource):
    """Images held in memory: one uint8 array (N, H_v, W_v) per view (views may differ in size).

    The arrays are not copied; frames are returned as read-only views of them.
    """

    def __init__(self, views: Sequence[np.ndarray]):
        arrays = [np.asarray(v) for v in views]
        if not arrays:
            raise ValueError("ArrayFrameSource: at least one view is required")
        for v, array in enumerate(arrays):
            if array.dtype != np.uint8 or array.ndim != 3:
                raise ValueError(f"ArrayFrameSource: view {v} must be uint8 (N, H, W), got {array.dtype} {array.shape}")
            if len(array) != len(arrays[0]):
                raise ValueError(f"ArrayFrameSource: view {v} has {len(array)} frames, view 0 has {len(arrays[0])}")
        # No cache: slicing an array is already free.
        super().__init__(len(arrays[0]), [(a.shape[2], a.shape[1]) for a in arrays], cache_frames=0)
        self._arrays = [freeze(a.view()) for a in arrays]

    @classmethod
    def from_stack(cls, images: np.ndarray) -> "ArrayFrameSource":
        """From one uint8 array (N, V, H, W) (all views the same size)."""
        images = np.asarray(images)
        if images.ndim != 4:
            raise ValueError(f"ArrayFrameSource.from_stack: expected (N, V, H, W), got {images.shape}")
        return cls([images[:, v] for v in range(images.shape[1])])

    def _decode(self, index: int) -> Views:
        return tuple(a[index] for a in self._arrays)


class NoFrameSource(FrameSource):
    """A recording without images: ``available`` is False and ``read`` raises ImagesUnavailableError.

    ``view_sizes`` still describes the cameras (from calibration), so overlays can be sized.
    """

    available = False

    def __init__(self, num_frames: int, view_sizes: Sequence[tuple[int, int]], reason: str = "this recording has no images"):
        super().__init__(num_frames, view_sizes, cache_frames=0)
        self.reason = reason

    def read(self, frame: int) -> Views:
        raise ImagesUnavailableError(self.reason)

    def _decode(self, index: int) -> Views:  # pragma: no cover - read() never gets here
        raise ImagesUnavailableError(self.reason)


def decode_image(data: bytes, source: str, expected_size: tuple[int, int] | None = None) -> np.ndarray:
    """Encoded image bytes (JPEG, PNG, ...) -> read-only uint8 (H, W) grayscale.

    Colour images are converted to luma (the tracker consumes monochrome views).
    Raises FormatError naming ``source`` for undecodable data or a size other than
    ``expected_size`` (width, height).
    """
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE) if data else None
    if image is None:
        raise FormatError(source, "", "not a decodable image (corrupt or truncated)")
    if expected_size is not None and (image.shape[1], image.shape[0]) != tuple(expected_size):
        raise FormatError(source, "", f"image is {image.shape[1]}x{image.shape[0]}, calibration says {expected_size[0]}x{expected_size[1]}")
    return freeze(image)


class TarFrameSource(FrameSource):
    """Images stored as members of an uncompressed tar (Hand Tracking Challenge / HOT3D clips).

    Args:
        path: the tar file.
        members: members[frame][view] = (member name, byte offset of its data, size in bytes),
            from one pass over the tar headers (``tarfile.TarInfo.offset_data`` / ``.size``);
            frames are then read with one seek each, never by re-scanning the archive.
        view_sizes: (width, height) per view, from calibration; a member of another size raises.
    """

    def __init__(
        self,
        path: str | Path,
        members: Sequence[Sequence[tuple[str, int, int]]],
        view_sizes: Sequence[tuple[int, int]],
        cache_frames: int = DEFAULT_CACHE_FRAMES,
    ):
        super().__init__(len(members), view_sizes, cache_frames)
        self.path = Path(path)
        self._members = [tuple(frame) for frame in members]
        for frame, entries in enumerate(self._members):
            if len(entries) != self.num_views:
                raise ValueError(f"TarFrameSource: frame {frame} has {len(entries)} images, expected {self.num_views}")
        self._file = None

    def _decode(self, index: int) -> Views:
        if self._file is None:
            try:
                self._file = open(self.path, "rb")
            except OSError as exc:
                raise FormatError(self.path, "", f"cannot open: {exc}") from None
        views = []
        for (name, offset, size), expected in zip(self._members[index], self.view_sizes):
            self._file.seek(offset)
            data = self._file.read(size)
            source = f"{self.path}:{name}"
            if len(data) != size:
                raise FormatError(source, "", f"truncated member: {len(data)} of {size} bytes")
            views.append(decode_image(data, source, expected))
        return tuple(views)

    def close(self) -> None:
        with self._lock:
            super().close()
            if self._file is not None:
                self._file.close()
                self._file = None
