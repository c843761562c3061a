"""The session file format (Qt-free): round trip, portable paths, validation with named fields."""

import json
import os
from pathlib import Path

import pytest

from app.session import HAND_MODEL_FROM_FILE, HAND_MODEL_FROM_RECORDING, SAMPLE_RECORDING, Session
from app.session_file import (
    REPO_ROOT,
    SESSION_VERSION,
    SessionState,
    TrackerRun,
    apply_view_state,
    capture,
    load_session_file,
    save_session_file,
)
from umetrack.errors import FormatError


def _state(tmp_path: Path) -> SessionState:
    return SessionState(
        recording_path=tmp_path / "data" / "recording_00.mp4",
        hand_model_path=Path("/somewhere/else/hand_model.json"),
        hand_model_source=HAND_MODEL_FROM_FILE,
        tracker=TrackerRun(tmp_path / "runs" / "weights.pt", "unknown", "tracked"),
        playhead=42,
        selected_hand=1,
        selected_joint=7,
        visible_layers={"mesh": False, "skeleton": True},
        dock_state=bytes(range(256)),
    )


def test_round_trip_keeps_every_field_and_writes_paths_relative_near_the_file(tmp_path):
    state = _state(tmp_path)
    path = tmp_path / "sessions" / "a.session.json"
    save_session_file(path, state)
    document = json.loads(path.read_text())
    assert document["format"] == "umetrack-studio-session" and document["version"] == SESSION_VERSION
    assert document["recording"] == "../data/recording_00.mp4"  # same folder tree: relative
    assert document["tracker"] == {"model": "../runs/weights.pt", "skeleton": "unknown", "crops": "tracked"}
    assert document["hand_model"] == "/somewhere/else/hand_model.json"  # elsewhere: absolute
    assert document["hand_model_source"] == "file"
    assert load_session_file(path) == state
    assert not [p for p in path.parent.iterdir() if p.name != path.name]  # no temporary left behind


def test_paths_inside_the_checkout_survive_moving_it(tmp_path):
    """A session in sessions/ names the sample relatively, so a moved checkout finds it again."""
    state = SessionState(recording_path=SAMPLE_RECORDING)
    document = state.to_json(REPO_ROOT / "sessions" / "x.session.json")
    assert document["recording"] == "../resources/sample/recording_00.mp4"
    moved = tmp_path / "moved_checkout"
    (moved / "sessions").mkdir(parents=True)
    (moved / "sessions" / "x.session.json").write_text(json.dumps(document))
    restored = load_session_file(moved / "sessions" / "x.session.json")
    assert restored.recording_path == (moved / "resources" / "sample" / "recording_00.mp4").resolve()


def test_capture_and_apply_view_state():
    session = Session()
    session.set_layer_visible("floor", False)
    session.select_joint(0, 4)
    state = capture(session, dock_state=b"layout")
    assert state.visible_layers["floor"] is False and state.selected_hand == 0 and state.selected_joint == 4
    assert state.dock_state == b"layout"
    other = Session()
    # A layer saved by a newer Studio is ignored; layers the file omits keep their state.
    apply_view_state(other, SessionState(visible_layers={"floor": False, "from_the_future": True}, selected_hand=1))
    assert other.visible_layers["floor"] is False and other.visible_layers["mesh"] is True
    assert other.selected_hand == 1 and other.selected_joint is None
    apply_view_state(other, SessionState(selected_hand=0, selected_joint=20))
    assert (other.selected_hand, other.selected_joint) == (0, 20)


@pytest.mark.parametrize(
    "change, field, words",
    [
        (lambda d: d.update(version=99), "version", "unsupported version 99"),
        (lambda d: d.update(format="something-else"), "format", "not a UmeTrack Studio session"),
        (lambda d: d.pop("playhead"), "playhead", "missing"),
        (lambda d: d.update(playhead=-3), "playhead", "frame number"),
        (lambda d: d.update(selected_hand=2), "selected_hand", "0 (left)"),
        (lambda d: d.update(selected_joint=21), "selected_joint", "landmark 0..20"),
        (lambda d: d.update(layers={"mesh": "yes"}), "layers", "true/false"),
        (lambda d: d.update(dock_state="***"), "dock_state", "base64"),
        (lambda d: d["tracker"].update(crops="psychic"), "tracker.crops", "oracle"),
        (lambda d: d.update(recording=17), "recording", "path string"),
        (lambda d: d.update(hand_model_source="mine"), "hand_model_source", "'recording'"),
        (lambda d: d.update(hand_model=None), "hand_model", "hand_model_source 'file'"),
    ],
)
def test_invalid_fields_are_named(tmp_path, change, field, words):
    path = tmp_path / "s.session.json"
    document = _state(tmp_path).to_json(path)
    change(document)
    path.write_text(json.dumps(document))
    with pytest.raises(FormatError) as info:
        load_session_file(path)
    assert info.value.field == field and words in str(info.value) and "s.session.json" in str(info.value)


@pytest.mark.parametrize("optional_field", ["selected_joint", "hand_model_source"])
def test_files_written_before_an_optional_field_still_read(tmp_path, optional_field):
    path = tmp_path / "old.session.json"
    document = _state(tmp_path).to_json(path)
    del document[optional_field]
    path.write_text(json.dumps(document))
    assert getattr(load_session_file(path), optional_field) is None


def test_capture_records_whether_the_hand_model_is_the_recordings_or_a_file(make_recording, hand_model, tmp_path):
    session = Session()
    assert capture(session).hand_model_source == HAND_MODEL_FROM_FILE  # the default model file
    session.set_recording(make_recording())
    assert capture(session).hand_model_source == HAND_MODEL_FROM_RECORDING
    session.set_hand_model(hand_model.scaled(1.1), tmp_path / "profile.json")
    state = capture(session)
    assert (state.hand_model_source, state.hand_model_path) == (HAND_MODEL_FROM_FILE, tmp_path / "profile.json")


@pytest.mark.parametrize(
    "source, recording_has_own_model, restores_file",
    [
        (HAND_MODEL_FROM_FILE, True, True),  # a user's profile replaces the recording's model
        (HAND_MODEL_FROM_FILE, False, True),
        (HAND_MODEL_FROM_RECORDING, True, False),  # the recording's own model, as saved
        (HAND_MODEL_FROM_RECORDING, False, True),  # the file stands in for a recording without one
        (None, True, False),  # files written before the field: as they were always restored
        (None, False, True),
    ],
)
def test_which_hand_model_a_restore_shows(source, recording_has_own_model, restores_file):
    state = SessionState(hand_model_path=Path("/profiles/me.json"), hand_model_source=source)
    assert state.restores_hand_model_file(recording_has_own_model) is restores_file
    assert SessionState(hand_model_source=None).restores_hand_model_file(False) is False  # no file to restore


def test_truncated_and_non_json_files_raise_format_error(tmp_path):
    path = tmp_path / "s.session.json"
    save_session_file(path, _state(tmp_path))
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(FormatError, match="JSON at line"):
        load_session_file(path)
    path.write_bytes(os.urandom(64) + b"\xff")
    with pytest.raises(FormatError):
        load_session_file(path)
    with pytest.raises(FormatError, match="file not found"):
        load_session_file(tmp_path / "missing.session.json")
