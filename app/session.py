"""The Qt-free session model every panel observes: the open recording, one playhead, one selection,
visible layers, the hand model and the hand poses on display.

Panels never talk to each other; they change the session and react to its events. Events fire
synchronously on the thread that changed the model, which is always the GUI thread (workers
hand their results back through Qt signals before anything here is touched).
"""

from __future__ import annotations

import functools
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from app.events import Event
from app.live_session import LiveSession
from umetrack.annotation.pinch_files import AnnotationAutosave, open_autosave
from umetrack.annotation.pinch_intervals import IntervalChange, PinchAnnotations
from umetrack.hand import fk
from umetrack.hand.io import load_hand_model
from umetrack.hand.model import NUM_JOINTS, NUM_LANDMARKS, HandModel
from umetrack.hand.pose import HandPose
from umetrack.recording import Recording, open_recording
from umetrack.resources import HAND_MODEL as DEFAULT_HAND_MODEL
from umetrack.resources import SAMPLE_RECORDING  # noqa: F401 - imported from here by the app and its tests
from umetrack.track.results import TrackedRecording

HAND_MODEL_FROM_RECORDING = "recording"
"""``Session.hand_model_source``: the open recording's own model (``hand_model_path`` is then only
the file last loaded, not what is on display)."""
HAND_MODEL_FROM_FILE = "file"
"""``Session.hand_model_source``: the model read from ``hand_model_path`` (the default model, a
profile the user chose, an accepted calibration)."""


FRAME_CHUNK = 32
"""During playback, per-frame geometry of a recording (GT landmarks, overlay pixels) is computed for
this many frames at once: one batched torch call costs about what one frame's call costs
(per-operation overhead dominates), so playback pays it once per chunk."""


class FrameChunks:
    """Values of a recording's frames (an array whose first axis is the frame, from ``compute(key,
    start, stop)``), computed ``size`` frames ahead in the direction of travel while frames are asked
    for in sequence (playback, stepping), one frame at a time otherwise (a seek pays for its frame
    only); the last few chunks are kept. Everything is forgotten when ``key`` (a tuple of the inputs,
    compared by identity) changes.

    With ``prefetch``, sequential travel also starts the chunk after the current one in a background
    thread, so playback finds it ready instead of computing it on the GUI thread. ``compute`` must then
    read its inputs from ``key`` alone (the session may move on while it runs) and touch no Qt object.
    """

    def __init__(self, compute, keep: int = 4, size: int = FRAME_CHUNK, prefetch: bool = False):
        self.compute = compute
        self.keep = keep
        self.size = size
        self.prefetch = prefetch
        self._key: tuple = ()
        self._chunks: dict[tuple[int, int], np.ndarray] = {}  # (start, stop) -> values, most recent last
        self._pending: dict[tuple[int, int], Future] = {}  # (start, stop) -> its background computation
        self._last_frame: int | None = None

    def get(self, key: tuple, frame: int, num_frames: int) -> np.ndarray:
        """The value of ``frame``."""
        chunk, start = self.chunk(key, frame, num_frames)
        return chunk[frame - start]

    def cached(self, key: tuple, start: int, stop: int) -> np.ndarray | None:
        """The values of frames start..stop-1 if exactly that chunk is kept."""
        return self._chunks.get((start, stop)) if _same_source(key, self._key) else None

    def chunk(self, key: tuple, frame: int, num_frames: int) -> tuple[np.ndarray, int]:
        """The values of a chunk that holds ``frame``, and the chunk's first frame."""
        if not _same_source(key, self._key):
            # A computation still running for the old key finishes unseen.
            self._key, self._chunks, self._pending, self._last_frame = key, {}, {}, None
        last, self._last_frame = self._last_frame, frame
        step = 0 if last is None else frame - last
        found = self._find(frame)
        if found is None:
            if 0 < step <= 2:
                start, stop = frame, min(frame + self.size, num_frames)
            elif 0 < -step <= 2:
                start, stop = max(0, frame + 1 - self.size), frame + 1
            else:
                start, stop = frame, frame + 1
            found = self._store((start, stop), self.compute(key, start, stop)), start
        if self.prefetch and 0 < abs(step) <= 2:
            start, stop = found[1], found[1] + len(found[0])
            ahead = (stop, min(stop + self.size, num_frames)) if step > 0 else (max(0, start - self.size), start)
            if ahead[0] < ahead[1] and ahead not in self._chunks and ahead not in self._pending:
                self._pending[ahead] = _background().submit(self.compute, key, *ahead)
        return found

    def _find(self, frame: int) -> tuple[np.ndarray, int] | None:
        for (start, stop), chunk in self._chunks.items():
            if start <= frame < stop:
                self._chunks[(start, stop)] = self._chunks.pop((start, stop))  # most recent last
                return chunk, start
        for span, future in self._pending.items():
            if span[0] <= frame < span[1]:
                del self._pending[span]
                return self._store(span, future.result()), span[0]  # waits if still running; raises its error
        return None

    def _store(self, span: tuple[int, int], chunk: np.ndarray) -> np.ndarray:
        chunk.flags.writeable = False  # rows are handed out to several panels
        self._chunks[span] = chunk
        while len(self._chunks) > self.keep:
            del self._chunks[next(iter(self._chunks))]
        return chunk


_BACKGROUND: list[ThreadPoolExecutor] = []


def _background() -> ThreadPoolExecutor:
    """The one thread that computes chunks ahead (one is enough: a chunk takes a few milliseconds, and
    the GUI thread needs the other core). Its tensor ops run single-threaded, as the GUI thread's do, so
    the chunks never take more than their one core."""
    if not _BACKGROUND:
        _BACKGROUND.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="frame-chunks", initializer=torch.set_num_threads, initargs=(1,)))
    return _BACKGROUND[0]


@functools.lru_cache(maxsize=4)
def gt_landmarks_chunk(recording: Recording, model_f64: HandModel, start: int, stop: int) -> np.ndarray:
    """(stop - start, 2, 21, 3) float64 world landmarks of the recording's GT poses with the given
    hand model (one batched FK call per hand), NaN where a hand is absent (``GroundTruth.pose`` None).

    Read-only, and the last few chunks are kept: the session's landmarks and the views' overlay pixels
    ask for the same chunks (one of them from the background thread), and FK costs ~1.7 ms for one
    frame, ~4.3 ms for 32."""
    gt = recording.gt
    out = np.full((stop - start, 2, NUM_LANDMARKS, 3), np.nan)
    with torch.no_grad():
        for hand in (0, 1):
            present = gt.confidence[start:stop, hand] > 0
            if present.any():
                angles = torch.as_tensor(gt.joint_angles[start:stop, hand][present], dtype=torch.float64)
                wrists = torch.as_tensor(gt.T_world_from_wrist[start:stop, hand][present], dtype=torch.float64)
                out[present, hand] = fk.landmarks(model_f64, angles, wrists, hand).numpy()
    out.flags.writeable = False
    return out


def landmarks_chunk(source: tuple, start: int, stop: int) -> np.ndarray:
    """(stop - start, 2, 21, 3) displayed landmarks of frames start..stop-1 from a
    ``Session.landmarks_source()``, NaN where absent (a hand-posed hand is the same in every frame)."""
    if isinstance(source[0], Recording):
        return gt_landmarks_chunk(*source, start, stop)
    one = np.stack([row if row is not None else np.full((NUM_LANDMARKS, 3), np.nan) for row in source])
    return np.broadcast_to(one, (stop - start, *one.shape))


def _same_source(a: tuple, b: tuple) -> bool:
    """Identity for objects (a recording, a pose), equality for frame numbers."""
    return len(a) == len(b) and all(x is y or (isinstance(x, int) and x == y) for x, y in zip(a, b))


def _default_pose(model: HandModel, hand_index: int) -> HandPose:
    """A relaxed pose 40 cm in front of a viewer at the origin looking along +z (world y up, so +x
    is the viewer's left), hands 20 cm apart, fingers up, palms facing each other, thumbs towards the viewer.

    Columns of T are the hand-local axes in world. The left model's fingers run along local +x;
    a right hand is the mirrored model, whose fingers run along local -x, so its column 0 points down.
    """
    if hand_index == 0:
        columns = [(0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, -1.0)]  # palm (-y) faces -x
        position = (0.1, -0.05, 0.4)
    else:
        columns = [(0.0, -1.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 0.0, -1.0)]  # palm (-y) faces +x
        position = (-0.1, -0.05, 0.4)
    T = torch.eye(4, dtype=torch.float64)
    T[:3, :3] = torch.tensor(columns, dtype=torch.float64).T
    T[:3, 3] = torch.tensor(position, dtype=torch.float64)
    return HandPose(hand_index, model.neutral_angles.double().clone(), T)


class Session:
    """Observable state of one Studio window.

    Events:
        recording_changed(recording | None): a recording was opened or closed.
        playhead_changed(frame): the current frame changed.
        selection_changed(hand | None): the selected hand changed.
        joint_selected(hand | None, joint | None): the selection, one (hand, landmark) pair, changed
            (fires on a hand change too, so joint views follow the hand; joint None: the whole hand).
        hand_model_changed(model): a new hand model was loaded.
        pose_changed(hand_index): a displayed hand pose changed (manual edit or new frame).
        layer_toggled(name, visible): a layer was shown or hidden.
        tracking_changed(results | None): tracker results for the open recording arrived (or were cleared).
        annotations_changed(change | None): the pinch annotations were edited (an IntervalChange), or
            replaced wholesale (None: another recording's were loaded).
    """

    LAYERS = ("mesh", "skeleton", "prediction", "floor", "cameras")

    def __init__(self, hand_model_path: str | Path | None = None):
        """Raises FormatError for a bad hand model file (the caller decides how to report it)."""
        self.recording_changed = Event("recording_changed")
        self.playhead_changed = Event("playhead_changed")
        self.selection_changed = Event("selection_changed")
        self.joint_selected = Event("joint_selected")
        self.hand_model_changed = Event("hand_model_changed")
        self.pose_changed = Event("pose_changed")
        self.layer_toggled = Event("layer_toggled")
        self.tracking_changed = Event("tracking_changed")
        self.annotations_changed = Event("annotations_changed")
        self.live = LiveSession()
        """Live-mode state (File ▸ Live source…); inactive while the player shows a recording."""
        self.pinch_annotations: PinchAnnotations | None = None
        self.annotation_autosave: AnnotationAutosave | None = None  # None: in-memory recording, not saved
        self.tracking: TrackedRecording | None = None
        self.hand_model_path = Path(hand_model_path or DEFAULT_HAND_MODEL)
        self.hand_model: HandModel = load_hand_model(self.hand_model_path)
        self.hand_model_source = HAND_MODEL_FROM_FILE
        """Where ``hand_model`` came from: HAND_MODEL_FROM_FILE or HAND_MODEL_FROM_RECORDING."""
        self.recording: Recording | None = None
        self.recording_path: Path | None = None
        self.playhead = 0
        self.selected_hand: int | None = None
        self.selected_joint: int | None = None
        """Landmark index (``LANDMARK_NAMES``) of the selected hand, or None."""
        self._manual_poses: dict[int, HandPose] = {h: _default_pose(self.hand_model, h) for h in (0, 1)}
        self.visible_layers: dict[str, bool] = {name: True for name in self.LAYERS}
        self._landmarks_cache: dict[int, tuple] = {}
        """hand -> (hand model, pose source, landmarks): see ``displayed_landmarks``."""
        self._model_f64: tuple[HandModel | None, HandModel | None] = (None, None)
        self._gt_landmarks = FrameChunks(landmarks_chunk, prefetch=True)
        """Keyed (recording, float64 hand model)."""

    # -- recording and playhead ------------------------------------------------------------------

    def open_recording(self, path: str | Path) -> Recording:
        """Open any supported recording; on a bad file raise (FormatError) and keep the current one."""
        recording = open_recording(path)
        self.set_recording(recording, Path(path))
        return recording

    def set_recording(self, recording: Recording | None, path: Path | None = None) -> None:
        previous = self.recording
        self.recording = recording
        self.recording_path = path
        if recording is not None and recording.hand_model is not None:
            self.hand_model = recording.hand_model
            self.hand_model_source = HAND_MODEL_FROM_RECORDING
            self.hand_model_changed.emit(self.hand_model)
        self.playhead = 0
        self.set_tracking(None)
        self._open_annotations()
        self.recording_changed.emit(recording)
        self.playhead_changed.emit(self.playhead)
        self._emit_all_poses()
        if previous is not None and previous is not recording:
            previous.close()

    @property
    def num_frames(self) -> int:
        return self.recording.num_frames if self.recording is not None else 0

    def seek(self, frame: int) -> None:
        """Move the playhead (clamped to the recording)."""
        if self.recording is None:
            return
        frame = max(0, min(int(frame), self.num_frames - 1))
        if frame != self.playhead:
            self.playhead = frame
            self.playhead_changed.emit(frame)
            self._emit_all_poses()

    def step(self, delta: int) -> None:
        self.seek(self.playhead + delta)

    def set_tracking(self, results: TrackedRecording | None) -> None:
        """Attach tracker results to the open recording (their frame count must match)."""
        if results is not None and (self.recording is None or results.num_frames != self.recording.num_frames):
            raise ValueError("tracking results do not belong to the open recording")
        self.tracking = results
        self.tracking_changed.emit(results)

    # -- pinch annotations -------------------------------------------------------------------------

    def _open_annotations(self) -> None:
        """Load the open recording's autosaved annotations (repaired, or empty when rejected: the
        autosave object carries the report the timeline shows)."""
        self.annotation_autosave = None
        if self.recording is None:
            self.pinch_annotations = None
        elif self.recording_path is None:
            self.pinch_annotations = PinchAnnotations(self.recording.num_frames)
        else:
            self.annotation_autosave, self.pinch_annotations = open_autosave(self.recording_path, self.recording)
        self.annotations_changed.emit(None)

    def apply_annotation_change(self, change: IntervalChange) -> None:
        """Apply an edit (ValueError when it does not fit, nothing changed) and autosave at once,
        atomically, so a crash loses at most this edit. A failed save is kept in
        ``annotation_autosave.last_error``; the edit stays applied in memory."""
        if self.pinch_annotations is None:
            raise RuntimeError("no recording open to annotate")
        self.pinch_annotations.apply(change)
        if self.annotation_autosave is not None:
            try:
                self.annotation_autosave.save(self.pinch_annotations)
            except OSError:
                pass  # recorded in last_error, which the timeline shows
        self.annotations_changed.emit(change)

    # -- selection and layers --------------------------------------------------------------------

    def select_hand(self, hand: int | None) -> None:
        if hand not in (None, 0, 1):
            raise ValueError(f"hand must be 0, 1 or None, got {hand!r}")
        if hand != self.selected_hand:
            self.selected_hand = hand
            if hand is None:
                self.selected_joint = None
            self.selection_changed.emit(hand)
            self.joint_selected.emit(hand, self.selected_joint)

    def select_joint(self, hand: int, joint: int | None) -> None:
        """Select landmark ``joint`` of ``hand`` (None: the whole hand)."""
        if joint is not None and not 0 <= joint < NUM_LANDMARKS:
            raise IndexError(f"landmark {joint} out of range 0..{NUM_LANDMARKS - 1}")
        if hand not in (0, 1):
            raise ValueError(f"a joint belongs to hand 0 or 1, got {hand!r}")
        if joint != self.selected_joint:
            self.selected_joint = joint
            if hand == self.selected_hand:
                self.joint_selected.emit(hand, joint)
        self.select_hand(hand)  # emits joint_selected itself when the hand changes

    def set_layer_visible(self, name: str, visible: bool) -> None:
        if name not in self.visible_layers:
            raise KeyError(f"unknown layer {name!r}; layers: {', '.join(self.visible_layers)}")
        if self.visible_layers[name] != visible:
            self.visible_layers[name] = visible
            self.layer_toggled.emit(name, visible)

    # -- hand model and poses --------------------------------------------------------------------

    def load_hand_model(self, path: str | Path) -> None:
        """Replace the hand model (raises FormatError and keeps the current one on a bad file)."""
        self.set_hand_model(load_hand_model(path), Path(path))

    def set_hand_model(self, model: HandModel, path: Path) -> None:
        """Show an already loaded hand model (restoring a session validates every file before applying any)."""
        self.hand_model = model
        self.hand_model_path = Path(path)
        self.hand_model_source = HAND_MODEL_FROM_FILE
        self.hand_model_changed.emit(self.hand_model)
        self._emit_all_poses()

    @property
    def hand_model_identity(self) -> str:
        """Names the model on display (``hand_model``, which tracking uses): HAND_MODEL_FROM_RECORDING,
        or the resolved path of the file it was read from (a calibrated profile, the default model)."""
        if self.hand_model_source == HAND_MODEL_FROM_RECORDING:
            return HAND_MODEL_FROM_RECORDING
        return str(self.hand_model_path.resolve())

    @property
    def follows_recording(self) -> bool:
        """Poses come from the recording's ground truth at the playhead (else they are edited by hand)."""
        return self.recording is not None and self.recording.gt is not None

    def displayed_pose(self, hand: int) -> HandPose | None:
        """The pose shown for a hand: GT at the playhead for a recording with GT (None where the hand
        is absent), otherwise the hand-edited pose."""
        if self.follows_recording:
            return self.recording.gt.pose(self.playhead, hand)
        return self._manual_poses[hand]

    def displayed_landmarks(self, hand: int) -> np.ndarray | None:
        """(21, 3) float64 world landmarks of ``displayed_pose(hand)`` (None where it is absent).

        Several panels draw them every frame; for a recording FK runs batched over ``FRAME_CHUNK``
        frames (``FrameChunks``), for hand-posed hands once per pose and hand model, and the float64
        copy of the model is made once per model (``HandModel.to`` costs milliseconds).
        """
        if self._model_f64[0] is not self.hand_model:
            self._model_f64 = (self.hand_model, self.hand_model.to(torch.float64))
        recording = self.recording
        source = (recording, self.playhead) if self.follows_recording else (self._manual_poses[hand],)
        cached = self._landmarks_cache.get(hand)
        if cached is not None and cached[0] is self.hand_model and _same_source(cached[1], source):
            return cached[2]
        if self.follows_recording:
            points = self._gt_landmarks.get((recording, self._model_f64[1]), self.playhead, recording.num_frames)[hand]
            points = points if np.isfinite(points).all() else None
            self._landmarks_cache[hand] = (self.hand_model, source, points)
            return points
        pose = self.displayed_pose(hand)
        points = None
        if pose is not None:
            with torch.no_grad():
                points = fk.landmarks(self._model_f64[1], pose.joint_angles.double(), pose.T_world_from_wrist.double(), hand).numpy()
            points.flags.writeable = False  # shared by every panel
        self._landmarks_cache[hand] = (self.hand_model, source, points)
        return points

    def landmarks_source(self) -> tuple:
        """What the displayed landmarks of every frame follow from, as a key compared by identity:
        (recording, float64 hand model) for a recording's GT, else the two hand-posed hands' (21, 3)
        landmarks (None where absent). ``landmarks_chunk`` needs nothing else, so work keyed on it can
        run in a background thread."""
        if self.follows_recording:
            self.displayed_landmarks(0)  # makes the float64 model of the model on display
            return (self.recording, self._model_f64[1])
        return (self.displayed_landmarks(0), self.displayed_landmarks(1))

    def set_joint_angle(self, hand_index: int, joint: int, radians: float) -> None:
        """Edit a joint of the hand-posed model (only when no recording drives the poses)."""
        if self.follows_recording:
            raise RuntimeError("poses follow the open recording's ground truth; close it to pose hands by hand")
        if not 0 <= joint < NUM_JOINTS:
            raise IndexError(f"joint {joint} out of range 0..{NUM_JOINTS - 1}")
        pose = self._manual_poses[hand_index]
        if float(pose.joint_angles[joint]) == radians:
            return
        angles = pose.joint_angles.clone()
        angles[joint] = radians
        self._manual_poses[hand_index] = replace(pose, joint_angles=angles)
        self.pose_changed.emit(hand_index)

    def set_pose(self, pose: HandPose) -> None:
        if self.follows_recording:
            raise RuntimeError("poses follow the open recording's ground truth")
        self._manual_poses[pose.hand_index] = pose.validated(f"{('left', 'right')[pose.hand_index]} hand")
        self.pose_changed.emit(pose.hand_index)

    def _emit_all_poses(self) -> None:
        for hand in (0, 1):
            self.pose_changed.emit(hand)
