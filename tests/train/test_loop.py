import math
import os
import socket

import pytest
import torch

from umetrack.geometry import axis_angle_to_matrix, make_transform
from umetrack.model.checkpoint import read_checkpoint
from umetrack.train.batch import TrainBatch
from umetrack.train.loop import TrainConfig, load_trained_network, make_network, recalibrate_batch_norm, sequence_losses, train


class NoiseSource:
    """Deterministic toy batches (random crops, random but valid geometry): enough to test the loop's mechanics."""

    def __init__(self, seed: int = 0, fixed: bool = False):
        self.seed = seed
        self.fixed = fixed

    def batch(self, step: int, rank: int, sequences: int, length: int) -> TrainBatch:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + (0 if self.fixed else step) * 101 + rank)
        S, T = sequences, length
        E = make_transform(axis_angle_to_matrix(0.2 * torch.randn(S, T, 2, 3, generator=g)), 0.02 * torch.randn(S, T, 2, 3, generator=g))
        hand = torch.arange(S) % 2
        E[hand == 1, :, :, 0, :] *= -1  # mirrored crops for right hands
        wrist = make_transform(axis_angle_to_matrix(torch.randn(S, T, 3, generator=g)), torch.tensor([0.0, 0.0, 0.35]) + 0.03 * torch.randn(S, T, 3, generator=g))
        use_memory = torch.ones(S, T, dtype=torch.bool)
        use_memory[:, 0] = False
        return TrainBatch(
            images=torch.randint(0, 255, (S, T, 2, 96, 96), generator=g, dtype=torch.uint8),
            focal=120 + 30 * torch.rand(S, T, 2, generator=g),
            extrinsics=E,
            num_views=1 + (torch.rand(S, T, generator=g) > 0.5).long(),
            hand_index=hand,
            joint_angles=0.5 * torch.rand(S, T, 22, generator=g),
            T_world_from_wrist=wrist,
            hand_scale=0.9 + 0.2 * torch.rand(S, generator=g),
            pinch=(torch.rand(S, T, generator=g) > 0.5).float(),
            use_memory=use_memory,
        )


def _config(**overrides) -> TrainConfig:
    base = dict(steps=6, sequences_per_batch=2, sequence_length=3, encoder="light", warmup_steps=2, checkpoint_every=3,
                log_every=1, precision="fp32", channels_last=False, temporal_losses_from=0.5, learning_rate=1e-3,
                batch_norm_recalibration=2)
    base.update(overrides)
    return TrainConfig(**base)


def test_loss_decreases_when_overfitting_one_batch(hand_model, tmp_path):
    losses = []
    config = _config(steps=25, warmup_steps=1, temporal_losses_from=2.0, checkpoint_every=1000, learning_rate=2e-3)
    train(config, NoiseSource(fixed=True), hand_model, tmp_path, progress=lambda step, m: losses.append(m["loss"]))
    assert len(losses) == 25
    assert min(losses[-5:]) < 0.6 * losses[0], losses


def test_resume_reproduces_an_uninterrupted_run_exactly(hand_model, tmp_path):
    config = _config()
    straight = train(config, NoiseSource(), hand_model, tmp_path / "straight")
    train(config, NoiseSource(), hand_model, tmp_path / "resumed", stop_after=3)
    assert read_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["step"] == 3
    resumed = train(config, NoiseSource(), hand_model, tmp_path / "resumed")
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    # The finished run exported shippable weights that load back (weights_only) into an eval-mode net.
    net, loaded_config = load_trained_network(tmp_path / "straight" / "weights.pt")
    assert loaded_config == config and not net.training
    log = (tmp_path / "straight" / "log.csv").read_text().splitlines()
    assert log[0].startswith("step,loss,mpjpe_k_mm") and len(log) == 7


def test_resume_with_a_different_config_is_refused(hand_model, tmp_path):
    train(_config(), NoiseSource(), hand_model, tmp_path, stop_after=3)
    with pytest.raises(ValueError, match="different config"):
        train(_config(learning_rate=5e-4), NoiseSource(), hand_model, tmp_path, stop_after=1)



def test_a_new_run_can_start_from_exported_weights(hand_model, tmp_path):
    train(_config(steps=2), NoiseSource(), hand_model, tmp_path / "first")
    exported, _ = load_trained_network(tmp_path / "first" / "weights.pt")
    assert read_checkpoint(tmp_path / "first" / "weights.pt")["step"] == 2
    # Zero steps of a new run: the network is exactly the exported (fp16-rounded) weights.
    second = train(_config(steps=4, seed=5), NoiseSource(), hand_model, tmp_path / "second", stop_after=0, init_weights=tmp_path / "first" / "weights.pt")
    for (name, a), (_, b) in zip(exported.state_dict().items(), second.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    with pytest.raises(ValueError, match="encoder"):
        train(_config(steps=2, encoder="released"), NoiseSource(), hand_model, tmp_path / "third", init_weights=tmp_path / "first" / "weights.pt")


_DDP_SCRIPT = """
import inspect, sys, torch
sys.path.insert(0, {test_dir!r})
torch.set_num_threads(1)
from umetrack.hand.io import load_hand_model
from umetrack.train.loop import train
import importlib.util
spec = importlib.util.spec_from_file_location("loop_test_module", {test_file!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
config = module._config(steps=3, checkpoint_every=100)
net = train(config, module.NoiseSource(), load_hand_model({hand_model_path!r}), {out_dir!r} + "/run")
rank = torch.distributed.get_rank()
torch.save(net.state_dict(), {out_dir!r} + f"/rank{{rank}}.pt")
torch.distributed.destroy_process_group()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_data_parallel_keeps_ranks_identical(tmp_path):
    """torchrun, 2 processes, gloo on CPU: both ranks end with identical weights and BN statistics."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    script = tmp_path / "ddp_run.py"
    script.write_text(_DDP_SCRIPT.format(test_dir=str(Path(__file__).parent), test_file=str(Path(__file__)),
                                         hand_model_path=str(repo / "resources" / "hand_model.json"), out_dir=str(tmp_path)))
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
               "--master-port", str(_free_port()), str(script)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for name in rank0:
        torch.testing.assert_close(rank0[name], rank1[name], rtol=0, atol=0, msg=name)
    # The ranks trained on different data, so they really did synchronise (weights moved from init).
    fresh = __import__("umetrack.train.loop", fromlist=["make_network"]).make_network("light").state_dict()
    assert not torch.equal(fresh["_regressor_k._pose_regression_layers.2.weight"], rank0["_regressor_k._pose_regression_layers.2.weight"])


def test_bf16_autocast_trains_with_geometry_in_full_precision(hand_model, tmp_path):
    losses = []
    train(_config(steps=2, precision="bf16", channels_last=True), NoiseSource(), hand_model, tmp_path, progress=lambda s, m: losses.append(m["loss"]))
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)


def test_auto_precision_uses_bf16_only_where_the_cpu_runs_it_natively(monkeypatch):
    from umetrack.train import loop

    cpu = torch.device("cpu")
    monkeypatch.setattr(loop, "cpu_has_fast_bf16", lambda: False)
    assert loop.autocast_dtype_for("auto", cpu) is None
    assert loop.autocast_dtype_for("bf16", cpu) is torch.bfloat16  # asked for explicitly: still honoured
    monkeypatch.setattr(loop, "cpu_has_fast_bf16", lambda: True)
    assert loop.autocast_dtype_for("auto", cpu) is torch.bfloat16
    assert loop.autocast_dtype_for("fp32", cpu) is None


def _eval_mode_error(net, hand_model, batch) -> float:
    net.eval()
    with torch.no_grad():
        return sequence_losses(net, hand_model, batch, temporal_losses=False).metrics["mpjpe_k_mm"]


def test_batch_norm_recalibration_makes_inference_normalise_like_training(hand_model):
    torch.manual_seed(0)
    net = make_network("light")
    batch = NoiseSource(seed=3).batch(0, 0, 4, 3)
    model = hand_model.to(torch.float32)
    with torch.no_grad():
        net.train()
        in_training = sequence_losses(net, model, batch, temporal_losses=False).metrics["mpjpe_k_mm"]
    net.eval()
    weights = {k: v.clone() for k, v in net.state_dict().items() if "running" not in k and "num_batches" not in k}
    before = _eval_mode_error(net, model, batch)  # fresh running statistics (0, 1): far from the batch's
    assert recalibrate_batch_norm(net, model, [batch]) == 1
    after = _eval_mode_error(net, model, batch)
    assert abs(after - in_training) < 0.02 * in_training, (before, after, in_training)
    assert abs(before - in_training) > 10 * abs(after - in_training)
    # Only statistics changed; momentum and the mode are restored.
    for name, value in weights.items():
        torch.testing.assert_close(net.state_dict()[name], value, rtol=0, atol=0, msg=name)
    assert all(m.momentum == 0.1 for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert not net.training
    statistics = {k: v.clone() for k, v in net.state_dict().items() if "running" in k}
    with pytest.raises(ValueError, match="at least one batch"):
        recalibrate_batch_norm(net, model, [])
    for name, value in statistics.items():  # nothing to average: the statistics are kept, not reset
        torch.testing.assert_close(net.state_dict()[name], value, rtol=0, atol=0, msg=name)


def test_a_finished_schedule_exports_recalibrated_statistics(hand_model, tmp_path):
    train(_config(steps=2, checkpoint_every=2), NoiseSource(), hand_model, tmp_path)
    exported = read_checkpoint(tmp_path / "weights.pt")["model"]
    last = read_checkpoint(tmp_path / "checkpoint.pt")["model"]  # running statistics as training left them
    name = "_feature_extractor._image_backbone.0._layers.0.1.running_mean"
    assert not torch.allclose(exported[name].float(), last[name].float(), atol=1e-3)
    weight = "_regressor_k._pose_regression_layers.2.weight"
    torch.testing.assert_close(exported[weight].float(), last[weight].half().float(), rtol=0, atol=0)


def test_pinch_weight_scales_the_pinch_term_only_once_temporal_losses_are_on(hand_model):
    from umetrack.train import losses

    torch.manual_seed(0)
    net = make_network("light").eval()  # eval: identical BatchNorm behaviour in every call
    batch = NoiseSource(seed=3).batch(0, 0, 2, 3)
    with torch.no_grad():
        total = {w: sequence_losses(net, hand_model, batch, True, pinch_weight=w).metrics["loss"] for w in (0.0, losses.LAMBDA_PINCH, 4.0)}
        before = {w: sequence_losses(net, hand_model, batch, False, pinch_weight=w).metrics["loss"] for w in (0.0, 4.0)}
    pinch_term = total[4.0] - total[0.0]
    assert pinch_term > 1e-3  # random weights predict tips that violate some hinge
    assert total[losses.LAMBDA_PINCH] - total[0.0] == pytest.approx(pinch_term * losses.LAMBDA_PINCH / 4.0, abs=1e-4)
    assert before[4.0] == pytest.approx(before[0.0], abs=1e-4)  # float noise only (threaded kernels)


def test_a_checkpoint_written_before_a_config_field_existed_still_resumes(hand_model, tmp_path):
    config = _config(steps=4)
    train(config, NoiseSource(), hand_model, tmp_path, stop_after=2)
    document = read_checkpoint(tmp_path / "checkpoint.pt")
    del document["config"]["pinch_weight"]  # as written by an earlier version
    torch.save(document, tmp_path / "checkpoint.pt")
    net = train(config, NoiseSource(), hand_model, tmp_path)
    assert read_checkpoint(tmp_path / "checkpoint.pt")["step"] == 4 and net is not None


def test_a_frozen_image_encoder_keeps_its_weights_and_statistics_while_the_rest_learns(hand_model, tmp_path):
    train(_config(steps=2), NoiseSource(), hand_model, tmp_path / "first")
    initial = read_checkpoint(tmp_path / "first" / "weights.pt")["model"]
    config = _config(steps=4, seed=5, freeze_image_encoder=True)
    net = train(config, NoiseSource(seed=1), hand_model, tmp_path / "frozen", init_weights=tmp_path / "first" / "weights.pt")
    exported = read_checkpoint(tmp_path / "frozen" / "weights.pt")["model"]
    encoder = "_feature_extractor._image_backbone."
    frozen = [name for name in initial if name.startswith(encoder)]
    assert any("running_mean" in name for name in frozen) and any(name.endswith("conv1.weight") for name in frozen)
    for name in frozen:  # weights and BatchNorm statistics, through training and the final recalibration
        torch.testing.assert_close(exported[name], initial[name], rtol=0, atol=0, msg=name)
    trained = ["_feature_extractor._multi_view_fusion.0.weight", "_temporal._temporal_module.0.weight", "_regressor_k._pose_regression_layers.2.weight"]
    for name in trained:
        assert not torch.equal(exported[name], initial[name]), name
    recalibrated = "_regressor_k._pose_regression_layers.0.bn1.running_mean"
    assert not torch.equal(exported[recalibrated], initial[recalibrated])
    assert net._feature_extractor._image_backbone.training is False and net._temporal.training
    with pytest.raises(ValueError, match="init_weights"):
        train(config, NoiseSource(), hand_model, tmp_path / "nothing_to_keep")


def test_training_only_the_temporal_module_leaves_every_other_weight_and_statistic_as_it_was(hand_model, tmp_path):
    train(_config(steps=2), NoiseSource(), hand_model, tmp_path / "first")
    initial = read_checkpoint(tmp_path / "first" / "weights.pt")["model"]
    config = _config(steps=4, seed=5, train_only_temporal_module=True)
    assert config.image_encoder_frozen
    net = train(config, NoiseSource(seed=1), hand_model, tmp_path / "temporal", init_weights=tmp_path / "first" / "weights.pt")
    exported = read_checkpoint(tmp_path / "temporal" / "weights.pt")["model"]
    moved = {name for name in initial if not torch.equal(exported[name], initial[name])}
    assert moved and all(name.startswith("_temporal.") for name in moved), sorted(moved)
    assert any(name.endswith("running_mean") for name in initial)  # statistics exist and stayed (no recalibration)
    assert net._temporal.training and not net._regressor_k.training and not net._feature_extractor.training
    with pytest.raises(ValueError, match="init_weights"):
        train(config, NoiseSource(), hand_model, tmp_path / "nothing_to_keep")
