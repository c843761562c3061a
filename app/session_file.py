"""Saved Studio sessions: a documented, versioned JSON file (Qt-free, so it can be read and written
by scripts and tested without a display). The format is described in sessions/README.md.

A session file records what the user was looking at, not the data: which recording, hand model and
tracker run, the playhead, the selected hand, the layer toggles and the dock layout. Tracking results
are not stored; restoring re-runs the tracker (or takes its cached results) when the model file exists.

Paths are written relative to the session file's folder when the target lies near it (under the
folder's parent) or in the same checkout as the session file, so sessions survive moving or
re-cloning the repository; anything else is written as an absolute path.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.session import HAND_MODEL_FROM_FILE, HAND_MODEL_FROM_RECORDING, Session
from umetrack.errors import FormatError
from umetrack.fileio import atomic_write_json, read_json, require
from umetrack.hand.model import NUM_LANDMARKS
from umetrack.track.tracker import TrackerOptions

SESSION_FORMAT = "umetrack-studio-session"
SESSION_VERSION = 1
SESSION_SUFFIX = ".session.json"
REPO_ROOT = Path(__file__).resolve().parents[1]
SESSIONS_DIR = REPO_ROOT / "sessions"
SKELETON_CHOICES = ("known", "unknown")
CROPS_CHOICES = ("oracle", "tracked")
HAND_MODEL_SOURCES = (HAND_MODEL_FROM_RECORDING, HAND_MODEL_FROM_FILE)


@dataclass(frozen=True)
class TrackerRun:
    """The tracker run whose results were on display: model weights and the options of the run."""

    model_path: Path
    skeleton: str = "known"
    crops: str = "oracle"

    def options(self) -> TrackerOptions:
        return TrackerOptions(skeleton=self.skeleton, crops=self.crops)


@dataclass(frozen=True)
class SessionState:
    """Everything a session file holds (paths absolute in memory; relative only on disk)."""

    recording_path: Path | None = None
    hand_model_path: Path | None = None
    hand_model_source: str | None = None
    """Which model was on display: HAND_MODEL_FROM_FILE (``hand_model_path``, e.g. a calibrated
    profile), HAND_MODEL_FROM_RECORDING (the recording's own; ``hand_model_path`` is then only a
    fallback for a recording without one), or None: not recorded (files written before the field)."""
    tracker: TrackerRun | None = None
    playhead: int = 0
    selected_hand: int | None = None
    selected_joint: int | None = None
    """Landmark index of the selected hand (the per-joint error panel's selection), or None."""
    visible_layers: dict[str, bool] = field(default_factory=dict)
    dock_state: bytes | None = None
    """QMainWindow.saveState() bytes: opaque to this module, stored base64."""

    def restores_hand_model_file(self, recording_has_own_model: bool) -> bool:
        """Whether restoring shows the model in ``hand_model_path`` over the restored recording: a
        user-chosen file always does; otherwise (the recording's own model, or not recorded) the file
        only stands in for a recording without a model of its own, or for no recording."""
        if self.hand_model_path is None:
            return False
        return self.hand_model_source == HAND_MODEL_FROM_FILE or not recording_has_own_model

    def to_json(self, session_file: Path) -> dict[str, Any]:
        folder = Path(session_file).resolve().parent
        tracker = None
        if self.tracker is not None:
            tracker = {"model": _portable(self.tracker.model_path, folder), "skeleton": self.tracker.skeleton, "crops": self.tracker.crops}
        return {
            "format": SESSION_FORMAT,
            "version": SESSION_VERSION,
            "recording": _portable(self.recording_path, folder),
            "hand_model": _portable(self.hand_model_path, folder),
            "hand_model_source": self.hand_model_source,
            "tracker": tracker,
            "playhead": self.playhead,
            "selected_hand": self.selected_hand,
            "selected_joint": self.selected_joint,
            "layers": dict(self.visible_layers),
            "dock_state": base64.b64encode(self.dock_state).decode("ascii") if self.dock_state is not None else None,
        }

    @classmethod
    def from_json(cls, document: Any, session_file: Path) -> "SessionState":
        """Validate a parsed session document; any problem raises FormatError naming the field."""
        source = Path(session_file)
        folder = source.resolve().parent
        kind = require(document, "format", source)
        if kind != SESSION_FORMAT:
            raise FormatError(source, "format", f"expected {SESSION_FORMAT!r}, got {kind!r} (not a UmeTrack Studio session)")
        version = require(document, "version", source)
        if not isinstance(version, int) or isinstance(version, bool):
            raise FormatError(source, "version", f"expected an integer, got {version!r}")
        if version != SESSION_VERSION:
            raise FormatError(source, "version", f"unsupported version {version}; this Studio reads version {SESSION_VERSION}")
        tracker_doc = require(document, "tracker", source)
        tracker = None
        if tracker_doc is not None:
            skeleton = require(tracker_doc, "skeleton", source, "tracker")
            crops = require(tracker_doc, "crops", source, "tracker")
            if skeleton not in SKELETON_CHOICES:
                raise FormatError(source, "tracker.skeleton", f"expected one of {SKELETON_CHOICES}, got {skeleton!r}")
            if crops not in CROPS_CHOICES:
                raise FormatError(source, "tracker.crops", f"expected one of {CROPS_CHOICES}, got {crops!r}")
            model = _path_field(tracker_doc, "model", source, folder, "tracker")
            if model is None:
                raise FormatError(source, "tracker.model", "missing model path for a tracker run")
            tracker = TrackerRun(model, skeleton, crops)
        playhead = require(document, "playhead", source)
        if not isinstance(playhead, int) or isinstance(playhead, bool) or playhead < 0:
            raise FormatError(source, "playhead", f"expected a frame number >= 0, got {playhead!r}")
        selected = require(document, "selected_hand", source)
        if selected not in (None, 0, 1) or isinstance(selected, bool):
            raise FormatError(source, "selected_hand", f"expected 0 (left), 1 (right) or null, got {selected!r}")
        # Optional: files written before joints could be selected have no such field.
        joint = document.get("selected_joint") if isinstance(document, dict) else None
        if joint is not None and (not isinstance(joint, int) or isinstance(joint, bool) or not 0 <= joint < NUM_LANDMARKS or selected is None):
            raise FormatError(source, "selected_joint", f"expected a landmark 0..{NUM_LANDMARKS - 1} of the selected hand, or null; got {joint!r}")
        # Optional: files written before it have none (restored as they always were: the recording's
        # own model wins when it has one).
        hand_model_source = document.get("hand_model_source")
        if hand_model_source is not None and hand_model_source not in HAND_MODEL_SOURCES:
            raise FormatError(source, "hand_model_source", f"expected one of {HAND_MODEL_SOURCES} or null, got {hand_model_source!r}")
        hand_model_path = _path_field(document, "hand_model", source, folder)
        if hand_model_source == HAND_MODEL_FROM_FILE and hand_model_path is None:
            raise FormatError(source, "hand_model", f"missing the hand model file of hand_model_source {HAND_MODEL_FROM_FILE!r}")
        layers = require(document, "layers", source)
        if not isinstance(layers, dict) or not all(isinstance(k, str) and isinstance(v, bool) for k, v in layers.items()):
            raise FormatError(source, "layers", "expected an object of layer name -> true/false")
        dock_text = require(document, "dock_state", source)
        dock_state = None
        if dock_text is not None:
            if not isinstance(dock_text, str):
                raise FormatError(source, "dock_state", "expected a base64 string or null")
            try:
                dock_state = base64.b64decode(dock_text, validate=True)
            except (binascii.Error, ValueError):
                raise FormatError(source, "dock_state", "not valid base64") from None
        return cls(
            recording_path=_path_field(document, "recording", source, folder),
            hand_model_path=hand_model_path,
            hand_model_source=hand_model_source,
            tracker=tracker,
            playhead=playhead,
            selected_hand=selected,
            selected_joint=joint,
            visible_layers=dict(layers),
            dock_state=dock_state,
        )


def capture(session: Session, tracker: TrackerRun | None = None, dock_state: bytes | None = None) -> SessionState:
    """The state of a live session (the window adds the tracker run and its dock layout)."""
    return SessionState(
        recording_path=session.recording_path,
        hand_model_path=session.hand_model_path,
        hand_model_source=session.hand_model_source,
        tracker=tracker,
        playhead=session.playhead,
        selected_hand=session.selected_hand,
        selected_joint=session.selected_joint,
        visible_layers=dict(session.visible_layers),
        dock_state=dock_state,
    )


def apply_view_state(session: Session, state: SessionState) -> None:
    """Playhead (clamped to the open recording), selected hand and joint, and layer toggles. Layers this Studio does
    not know (saved by a newer one) are ignored; layers the file does not mention keep their state."""
    for name, visible in state.visible_layers.items():
        if name in session.visible_layers:
            session.set_layer_visible(name, visible)
    session.select_hand(state.selected_hand)
    if state.selected_hand is not None:
        session.select_joint(state.selected_hand, state.selected_joint)
    session.seek(state.playhead)


def save_session_file(path: str | Path, state: SessionState) -> None:
    """Write atomically: a crash mid-save leaves the previous file intact."""
    path = Path(path)
    atomic_write_json(path, state.to_json(path))


def load_session_file(path: str | Path) -> SessionState:
    """Read and validate; a missing, truncated, corrupt or unknown-version file raises FormatError."""
    path = Path(path)
    return SessionState.from_json(read_json(path), path)


def _portable(path: Path | None, folder: Path) -> str | None:
    """Relative to the session's folder when the target is near it (under the folder's parent, as a
    project's data/ next to its sessions/ is) or both lie in this checkout: such paths keep working
    after the project or checkout moves. Absolute otherwise."""
    if path is None:
        return None
    target = Path(path).resolve()
    if target.is_relative_to(folder.parent) or (target.is_relative_to(REPO_ROOT) and folder.is_relative_to(REPO_ROOT)):
        return Path(os.path.relpath(target, folder)).as_posix()
    return str(target)


def _path_field(document: Any, key: str, source: Path, folder: Path, parent: str = "") -> Path | None:
    value = require(document, key, source, parent)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise FormatError(source, f"{parent}.{key}" if parent else key, f"expected a path string or null, got {value!r}")
    path = Path(value)
    return path if path.is_absolute() else (folder / path).resolve()
