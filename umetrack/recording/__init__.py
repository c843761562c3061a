"""Recordings and the readers/writers of the public formats.

``open_recording(path)`` returns a format-free ``Recording`` (``model.py``) whose images come
from a ``FrameSource`` (``frames.py``, ``video.py``). Readers: UmeTrack raw data
(``umetrack_raw.py``, also the writer), challenge / HOT3D-clips tars (``challenge.py``), HOT3D
recording folders (``hot3d.py``).
"""

from umetrack.recording.challenge import read_challenge_tar
from umetrack.recording.frames import (
    ArrayFrameSource,
    FrameSource,
    ImagesUnavailableError,
    NoFrameSource,
    TarFrameSource,
)
from umetrack.recording.hot3d import read_hot3d_recording
from umetrack.recording.model import HandTrajectory, PinchLabels, Recording
from umetrack.recording.reader import open_recording
from umetrack.recording.umetrack_raw import read_pinch_labels, read_umetrack_raw, write_umetrack_raw
from umetrack.recording.video import VideoFrameSource, write_video

__all__ = [
    "ArrayFrameSource",
    "FrameSource",
    "HandTrajectory",
    "ImagesUnavailableError",
    "NoFrameSource",
    "PinchLabels",
    "Recording",
    "TarFrameSource",
    "VideoFrameSource",
    "open_recording",
    "read_challenge_tar",
    "read_hot3d_recording",
    "read_pinch_labels",
    "read_umetrack_raw",
    "write_umetrack_raw",
    "write_video",
]
