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


def test_recalibrate_bn_rewrites_only_batchnorm_statistics(tmp_path, capsys):
    import torch

    from umetrack.model.checkpoint import read_checkpoint
    from umetrack.train.loop import TrainConfig, export_weights, make_network

    source = tmp_path / "weights.pt"
    export_weights(make_network("light"), TrainConfig(encoder="light", sequences_per_batch=2, sequence_length=2), source, step=7)
    out = tmp_path / "recalibrated.pt"
    assert main(["recalibrate-bn", "--model", str(source), "--out", str(out), "--batches", "2"]) == 0
    assert "averaged over 2 batches" in capsys.readouterr().out
    before, after = read_checkpoint(source), read_checkpoint(out)
    assert after["step"] == 7 and after["config"] == before["config"]
    changed = {k for k in before["model"] if not torch.equal(before["model"][k], after["model"][k])}
    assert changed and all(k.endswith(("running_mean", "running_var", "num_batches_tracked")) for k in changed)
    assert "_feature_extractor._image_backbone.0._layers.0.1.running_mean" in changed
    # Weights whose run froze the image encoder keep its statistics; the rest is recalibrated.
    frozen = tmp_path / "frozen.pt"
    export_weights(make_network("light"), TrainConfig(encoder="light", sequences_per_batch=2, sequence_length=2, freeze_image_encoder=True), frozen)
    assert main(["recalibrate-bn", "--model", str(frozen), "--out", str(out), "--batches", "2"]) == 0
    before, after = read_checkpoint(frozen), read_checkpoint(out)
    changed = {k for k in before["model"] if not torch.equal(before["model"][k], after["model"][k])}
    assert changed and not any(k.startswith("_feature_extractor._image_backbone.") for k in changed)


def test_encode_crops_then_train_from_the_features_as_a_user_would(tmp_path, capsys):
    from umetrack.model.checkpoint import read_checkpoint
    from umetrack.train.loop import TrainConfig, export_weights, make_network

    weights = tmp_path / "weights.pt"
    export_weights(make_network("light"), TrainConfig(encoder="light", sequences_per_batch=2, sequence_length=2), weights, step=7)
    cache = tmp_path / "cache"
    encode = ["encode-crops", "--model", str(weights), "--out", str(cache), "--batch", "2", "--length", "3", "--workers", "0"]
    assert main([*encode, "--batches", "2"]) == 0
    assert main([*encode, "--batches", "3"]) == 0  # grows the same cache by one batch
    out = capsys.readouterr().out
    assert "3 batches of 2 x 3 frames (1 encoded now)" in out and f"--features {cache}" in out
    assert json.loads((cache / "cache.json").read_text())["steps"] == [0, 1, 2]

    run = tmp_path / "run"
    command = ["train", "--out", str(run), "--encoder", "light", "--features", str(cache), "--init-from", str(weights),
               "--batch", "2", "--length", "3", "--steps", "3", "--bn-batches", "1", "--precision", "fp32"]  # fmt: skip
    assert main(command) == 2  # without --freeze-image-encoder
    assert "--freeze-image-encoder" in capsys.readouterr().err
    assert main([*command, "--freeze-image-encoder"]) == 0
    assert read_checkpoint(run / "weights.pt")["step"] == 3
