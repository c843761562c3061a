import json

from umetrack.cli import main
from umetrack.hand.io import save_hand_model


def test_hand_model_command_summarises_a_valid_model(hand_model, tmp_path, capsys):
    path = tmp_path / "model.json"
    save_hand_model(path, hand_model)
    assert main(["hand-model", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{hand_model.num_vertices} vertices" in out and "valid UmeTrack hand model" in out


def test_hand_model_command_reports_bad_file(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"hand_model": {"joint_rotation_axes": "nope"}}))
    assert main(["hand-model", str(path)]) == 2
    err = capsys.readouterr().err
    assert "broken.json" in err and "hand_model.joint_rotation_axes" in err
