"""The files shipped in the repository's ``resources/`` folder: the one place their paths are spelled."""

from __future__ import annotations

from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
HAND_MODEL = RESOURCES / "hand_model.json"
"""The generic UmeTrack hand model (scale 1)."""
TRACKER_WEIGHTS = RESOURCES / "weights" / "umetrack.pt"
"""The default tracker network: the released encoder layout, trained on a GPU (most accurate)."""
LIGHT_TRACKER_WEIGHTS = RESOURCES / "weights" / "umetrack_light.pt"
"""The light-encoder network trained on a CPU: less accurate, ~3.5x faster on a CPU (live mode's default)."""
DETECTOR_WEIGHTS = RESOURCES / "weights" / "hand_detector.pt"
"""The bootstrap hand detector of tracked crops."""
SAMPLE_RECORDING = RESOURCES / "sample" / "recording_00.mp4"
