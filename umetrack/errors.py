"""Typed errors raised for bad input anywhere in the library.

Every error that comes from a file names the file and the field, so a user who
opens a broken recording reads what is wrong and where, never a bare KeyError.
"""

from __future__ import annotations

from pathlib import Path


class UmeTrackError(Exception):
    """Base class of every error this library raises on purpose."""


class FormatError(UmeTrackError, ValueError):
    """A file (or an in-memory document) does not match the expected format.

    Attributes:
        source: the file path, or a short description of the in-memory source.
        field: dotted path of the offending field ("hand_model.joint_limits"), or "".
        reason: what is wrong with it.
    """

    def __init__(self, source: str | Path | None, field: str, reason: str):
        self.source = str(source) if source is not None else "<memory>"
        self.field = field
        self.reason = reason
        where = f"{self.source}"
        if field:
            where += f": field '{field}'"
        super().__init__(f"{where}: {reason}")


class InvalidPoseError(UmeTrackError, ValueError):
    """A hand pose is unusable: NaN/inf angles, wrong length, a non-rigid wrist transform."""


class InvalidCameraError(UmeTrackError, ValueError):
    """A camera is unusable: NaN or non-positive intrinsics, a non-rigid extrinsic transform."""


class CropError(UmeTrackError, ValueError):
    """A perspective crop cannot be built (points behind the camera, degenerate focal length)."""


class TrainingSetupError(UmeTrackError, ValueError):
    """A training run cannot start as asked: a run folder of another config, data the network cannot
    use (features of another image encoder), a frozen encoder without weights to keep."""
