"""``open_recording``: one entry point that picks the reader from what the path is."""

from __future__ import annotations

from pathlib import Path

from umetrack.errors import FormatError
from umetrack.recording.challenge import read_challenge_tar
from umetrack.recording.hot3d import is_hot3d_folder, read_hot3d_recording
from umetrack.recording.model import Recording
from umetrack.recording.umetrack_raw import raw_paths, read_umetrack_raw

SUPPORTED = (
    "a UmeTrack raw recording (recording_YY.mp4 + recording_YY.json: give either file or the stem)",
    "a Hand Tracking Challenge / HOT3D-clips sequence .tar",
    "a HOT3D recording folder (metadata.json, headset_trajectory.csv, camera_models.json, ...)",
)


def open_recording(path: str | Path) -> Recording:
    """Read the recording at ``path`` with the reader its form calls for (see ``SUPPORTED``).

    Dispatch: a folder -> HOT3D; ``*.tar`` -> challenge tar; ``*.mp4`` / ``*.json`` (or a stem
    whose ``.mp4`` or ``.json`` exists) -> UmeTrack raw data. Close the result (or use it as a
    context manager) to release its files.

    Raises:
        FormatError: the path does not exist or is none of the supported forms, or the chosen
            reader rejects the content.
    """
    path = Path(path)
    if path.is_dir():
        if is_hot3d_folder(path):
            return read_hot3d_recording(path)
        raise FormatError(path, "", "a folder that is not a HOT3D recording; supported: " + "; ".join(SUPPORTED))
    suffix = path.suffix.lower()
    if suffix == ".tar":
        return read_challenge_tar(path)
    if suffix in (".mp4", ".json") or any(p.exists() for p in raw_paths(path)[:2]):
        return read_umetrack_raw(path)
    if not path.exists():
        raise FormatError(path, "", "file not found")
    raise FormatError(path, "", "unsupported input; expected " + "; ".join(SUPPORTED))
