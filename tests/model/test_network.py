import math

import pytest
import torch

from umetrack.errors import FormatError
from umetrack.geometry import axis_angle_to_matrix, make_transform
from umetrack.model.checkpoint import load_state_dict_strict, read_checkpoint, save_checkpoint, state_dict_of
from umetrack.model.ftl import feature_transform, focal_scale_transform
from umetrack.model.network import UmeTrackNet
from umetrack.model.root import points_from_rigid, rigid_from_points


def _bn(prefix, c):
    return {f"{prefix}.weight": (c,), f"{prefix}.bias": (c,), f"{prefix}.running_mean": (c,), f"{prefix}.running_var": (c,), f"{prefix}.num_batches_tracked": ()}


def _block(prefix, cin, cout):
    keys = {f"{prefix}.conv1.weight": (cout, cin, 3, 3), f"{prefix}.conv2.weight": (cout, cout, 3, 3)}
    keys.update(_bn(f"{prefix}.bn1", cout))
    keys.update(_bn(f"{prefix}.bn2", cout))
    if cin != cout:
        keys[f"{prefix}.downsample.0.weight"] = (cout, cin, 1, 1)
        keys.update(_bn(f"{prefix}.downsample.1", cout))
    return keys


def released_layout() -> dict[str, tuple[int, ...]]:
    """The released state_dict, written out from the table in network.md §8 (independently of our modules)."""
    bb = "_feature_extractor._image_backbone"
    keys = {f"{bb}.0._layers.0.0.weight": (32, 1, 3, 3), f"{bb}.0._layers.0.0.bias": (32,)}
    keys.update(_bn(f"{bb}.0._layers.0.1", 32))
    for layer, (cin, cout, count) in enumerate([(32, 32, 2), (32, 64, 3), (64, 128, 5), (128, 256, 2)], start=1):
        for b in range(count):
            keys.update(_block(f"{bb}.0._layers.{layer}.{b}", cin if b == 0 else cout, cout))
    keys.update({f"{bb}.1.weight": (72, 256, 1, 1), f"{bb}.1.bias": (72,)})
    fusion = "_feature_extractor._multi_view_fusion"
    for index, (cout, cin) in zip((0, 3, 6), [(108, 144), (72, 108), (72, 72)]):
        keys.update({f"{fusion}.{index}.weight": (cout, cin, 1, 1), f"{fusion}.{index}.bias": (cout,)})
    keys.update(_bn(f"{fusion}.1", 108))
    keys.update(_bn(f"{fusion}.4", 72))
    for index in (0, 2, 4):
        keys.update({f"_temporal._temporal_module.{index}.weight": (90, 90, 1, 1), f"_temporal._temporal_module.{index}.bias": (90,)})
    keys.update({"_skeleton_enc._layers.0.weight": (144, 132), "_skeleton_enc._layers.0.bias": (144,)})
    keys.update(_bn("_skeleton_enc._layers.2", 4))
    for name, c, n in (("_regressor_k", 76, 62), ("_regressor_u", 72, 63)):
        for b in (0, 1):
            keys.update(_block(f"{name}._pose_regression_layers.{b}", c, c))
        keys.update({f"{name}._pose_regression_layers.2.weight": (n, c, 1, 1), f"{name}._pose_regression_layers.2.bias": (n,)})
    return keys


def test_state_dict_matches_released_layout_exactly():
    expected = released_layout()
    ours = {k: tuple(v.shape) for k, v in UmeTrackNet().state_dict().items()}
    assert ours == expected
    assert len(ours) == 252
    assert sum(math.prod(s) for s in ours.values()) == 4_259_410


def test_released_style_state_dict_loads_strictly(tmp_path):
    generator = torch.Generator().manual_seed(0)
    state = {k: (torch.randn(s, generator=generator) if s else torch.tensor(7)) for k, s in released_layout().items()}
    path = tmp_path / "pretrained_weights.torch"
    torch.save(state, path)
    model = UmeTrackNet()
    load_state_dict_strict(model, state_dict_of(read_checkpoint(path), path), path)
    torch.testing.assert_close(model._regressor_u._pose_regression_layers[2].bias, state["_regressor_u._pose_regression_layers.2.bias"])


def test_wrong_architecture_names_keys(tmp_path):
    state = UmeTrackNet().state_dict()
    state.pop("_temporal._temporal_module.2.weight")
    state["_extra.weight"] = torch.zeros(3)
    state["_regressor_k._pose_regression_layers.2.bias"] = torch.zeros(5)
    path = tmp_path / "other.pt"
    save_checkpoint(path, {"model": state, "config": {"encoder": "released"}})
    with pytest.raises(FormatError) as info:
        load_state_dict_strict(UmeTrackNet(), state_dict_of(read_checkpoint(path), path), path)
    message = str(info.value)
    assert "_temporal._temporal_module.2.weight" in message and "_extra.weight" in message
    assert "_regressor_k._pose_regression_layers.2.bias (file (5,), model (62,))" in message


def test_corrupt_and_truncated_files_raise_format_error(tmp_path):
    path = tmp_path / "w.pt"
    save_checkpoint(path, UmeTrackNet().state_dict())
    data = path.read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 3])
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint at all")
    for name in ("truncated.pt", "garbage.pt", "missing.pt"):
        with pytest.raises(FormatError):
            read_checkpoint(tmp_path / name)


def test_unsafe_pickle_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    path = tmp_path / "evil.pt"
    torch.save({"model": Evil()}, path)
    with pytest.raises(FormatError, match="unsafe|readable"):
        read_checkpoint(path)


def test_feature_transform_moves_points():
    n, c = 2, 6
    features = torch.randn(n, c, 3, 3, dtype=torch.float64)
    T = make_transform(axis_angle_to_matrix(torch.tensor([0.3, -0.2, 0.9], dtype=torch.float64)), torch.tensor([0.1, 0.2, -0.3], dtype=torch.float64))
    out = feature_transform(features, T.expand(n, 4, 4))
    point = torch.stack([features[1, 1, 2, 0], features[1, 3, 2, 0], features[1, 5, 2, 0]])  # channel 1 with 1+2, 1+4
    assert out.dtype == torch.float32  # geometry is kept in full precision even under bf16 autocast
    torch.testing.assert_close(torch.stack([out[1, 1, 2, 0], out[1, 3, 2, 0], out[1, 5, 2, 0]]), (T[:3, :3] @ point + T[:3, 3]).float())
    torch.testing.assert_close(focal_scale_transform(torch.tensor([400.0]))[0].diagonal(), torch.tensor([1.0, 1.0, 2.0, 1.0]))


def test_kabsch_recovers_transform_and_is_differentiable():
    T = make_transform(axis_angle_to_matrix(torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64)), torch.tensor([[0.1, -0.05, 0.4]], dtype=torch.float64))
    points = points_from_rigid(T)
    torch.testing.assert_close(rigid_from_points(points), T)
    noisy = (points + 1e-3 * torch.randn_like(points)).requires_grad_()
    assert torch.autograd.gradcheck(lambda p: rigid_from_points(p)[..., :3, :], (noisy,))


def _inputs(batch=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 2, 96, 96, generator=g)
    focal = 120 + 40 * torch.rand(batch, 2, generator=g)
    E = make_transform(axis_angle_to_matrix(0.3 * torch.randn(batch, 2, 3, generator=g)), 0.05 * torch.randn(batch, 2, 3, generator=g))
    E[:, :, 0] *= torch.tensor([1.0, -1.0, 1.0])[:batch, None, None]  # mirrored crops for the right hand
    return images, focal, E, torch.tensor([1, 2, 2])[:batch], torch.tensor([0, 1, 0])[:batch]


def test_batched_forward_matches_per_hand_forward():
    model = UmeTrackNet().eval()
    images, focal, E, views, hands = _inputs()
    skeleton = torch.rand(132)
    with torch.no_grad():
        batched = model(images, focal, E, views, hands, skeleton)
        for b in range(3):
            single = model(images[b : b + 1], focal[b : b + 1], E[b : b + 1], views[b : b + 1], hands[b : b + 1], skeleton)
            torch.testing.assert_close(single.joint_angles[0], batched.joint_angles[b], atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(single.T_world_from_wrist[0], batched.T_world_from_wrist[b], atol=1e-5, rtol=1e-4)
    # Both hands come back as proper rigid transforms in their own convention.
    dets = torch.linalg.det(batched.T_world_from_wrist[:, :3, :3])
    torch.testing.assert_close(dets, torch.ones(3), atol=1e-4, rtol=0)


def test_encoder_runs_once_over_every_crop_of_the_batch():
    """BatchNorm must see one population per forward (the 1-view and 2-view hands together), the
    same one its running statistics describe at inference."""
    model = UmeTrackNet().train()
    images, focal, E, views, hands = _inputs()
    seen = []
    model._feature_extractor._image_backbone.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[0]))
    model(images, focal, E, views, hands, torch.rand(132))
    assert seen == [int(views.sum())]


def test_single_view_ignores_second_slot_and_memory_reset_equals_fresh_state():
    model = UmeTrackNet().eval()
    images, focal, E, views, hands = _inputs()
    with torch.no_grad():
        first = model(images, focal, E, views, hands, None)
        other = images.clone()
        other[0, 1] = 0.0  # hand 0 has one view: its slot 1 must not matter
        again = model(other, focal, E, views, hands, None)
        torch.testing.assert_close(first.joint_angles[0], again.joint_angles[0])
        fresh = model(images, focal, E, views, hands, None, state=None)
        reset = model(images, focal, E, views, hands, None, state=first.state, use_memory=torch.zeros(3, dtype=torch.bool))
        torch.testing.assert_close(fresh.joint_angles, reset.joint_angles)
        continued = model(images, focal, E, views, hands, None, state=first.state, use_memory=torch.ones(3, dtype=torch.bool))
        assert not torch.allclose(continued.joint_angles, fresh.joint_angles)
    assert first.hand_scale is not None and (first.hand_scale > 0).all()


def test_gradients_reach_every_trained_module():
    model = UmeTrackNet().train()
    images, focal, E, views, hands = _inputs()
    out_k = model(images, focal, E, views, hands, torch.rand(132))
    out_u = model(images, focal, E, views, hands, None)
    loss = out_k.joint_angles.square().sum() + out_k.wrist_points.square().sum() + out_u.hand_scale.sum()
    loss.backward()
    for name in ("_feature_extractor._image_backbone.0._layers.0.0.weight", "_feature_extractor._multi_view_fusion.0.weight",
                 "_temporal._temporal_module.0.weight", "_skeleton_enc._layers.0.weight",
                 "_regressor_k._pose_regression_layers.2.weight", "_regressor_u._pose_regression_layers.2.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
