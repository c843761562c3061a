import pytest
import torch

from umetrack.errors import FormatError
from umetrack.model.checkpoint import read_checkpoint
from umetrack.train.feature_cache import (CachedFeatureSource, FeatureCacheInfo, cached_steps, encode_batches, image_encoder_digest,
                                          read_shard, shard_path)  # fmt: skip
from umetrack.train.loop import load_trained_network, make_network, sequence_losses, train

from .test_loop import NoiseSource, _config

SEQUENCES, LENGTH = 2, 3


def _info(net, steps=(0, 1, 2), **overrides) -> FeatureCacheInfo:
    fields = dict(encoder="light", encoder_digest=image_encoder_digest(net), data_seed=0, crop_noise_scale=1.0,
                  sequences_per_batch=SEQUENCES, sequence_length=LENGTH, steps=tuple(steps))  # fmt: skip
    fields.update(overrides)
    return FeatureCacheInfo(**fields)


@pytest.fixture
def trained_weights(hand_model, tmp_path):
    """Weights with non-trivial BatchNorm statistics, as a run's --init-from would be."""
    train(_config(steps=2), NoiseSource(seed=3), hand_model, tmp_path / "first")
    return tmp_path / "first" / "weights.pt"


def test_cached_features_give_the_losses_of_the_images_they_were_encoded_from(hand_model, trained_weights, tmp_path):
    net, _ = load_trained_network(trained_weights)
    source = NoiseSource(seed=4)
    encode_batches(net, source, _info(net), tmp_path / "cache")
    cached = read_shard(shard_path(tmp_path / "cache", 1))
    assert cached.images is None and cached.crop_features.dtype == torch.float16
    assert cached.crop_features.shape == (SEQUENCES, LENGTH, 2, 72, 6, 6)
    one_view = cached.num_views == 1
    assert one_view.any() and (cached.crop_features[one_view][:, 1] == 0).all()  # the unused slot

    rendered = source.batch(1, 0, SEQUENCES, LENGTH)
    net.train()
    net._feature_extractor._image_backbone.eval()  # frozen, as in a --freeze-image-encoder run
    with torch.no_grad():
        from_images = sequence_losses(net, hand_model, rendered, temporal_losses=True)
        from_features = sequence_losses(net, hand_model, cached, temporal_losses=True)
    for name in ("loss", "mpjpe_k_mm", "mpjpe_u_mm", "temporal"):
        assert from_features.metrics[name] == pytest.approx(from_images.metrics[name], rel=1e-4, abs=1e-6), name
    # And not trivially: another batch's features give other losses.
    with torch.no_grad():
        other = sequence_losses(net, hand_model, read_shard(shard_path(tmp_path / "cache", 2)), temporal_losses=True)
    assert other.metrics["mpjpe_k_mm"] != pytest.approx(from_images.metrics["mpjpe_k_mm"], rel=1e-2)


def test_a_run_from_the_cache_trains_all_but_the_encoder_and_refuses_foreign_features(hand_model, trained_weights, tmp_path):
    net, _ = load_trained_network(trained_weights)
    encode_batches(net, NoiseSource(seed=4), _info(net), tmp_path / "cache")
    source = CachedFeatureSource(tmp_path / "cache", seed=1)
    config = _config(steps=4, freeze_image_encoder=True)
    train(config, source, hand_model, tmp_path / "run", init_weights=trained_weights)
    initial = read_checkpoint(trained_weights)["model"]
    exported = read_checkpoint(tmp_path / "run" / "weights.pt")["model"]
    for name in initial:
        if name.startswith("_feature_extractor._image_backbone."):
            torch.testing.assert_close(exported[name], initial[name], rtol=0, atol=0, msg=name)
    for name in ("_feature_extractor._multi_view_fusion.0.weight", "_temporal._temporal_module.0.weight", "_regressor_u._pose_regression_layers.2.weight"):
        assert not torch.equal(exported[name], initial[name]), name

    with pytest.raises(ValueError, match="--freeze-image-encoder"):
        train(_config(steps=4), source, hand_model, tmp_path / "unfrozen", init_weights=trained_weights)
    torch.manual_seed(9)
    other = make_network("light")
    torch.save({"model": other.state_dict(), "config": _config().to_json()}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="another image encoder"):
        train(config, source, hand_model, tmp_path / "foreign", init_weights=tmp_path / "other.pt")
    with pytest.raises(ValueError, match="--batch 2 --length 3"):
        source.batch(0, 0, SEQUENCES, LENGTH + 1)


def test_an_interrupted_cache_resumes_and_a_folder_of_other_settings_is_refused(trained_weights, tmp_path):
    net, _ = load_trained_network(trained_weights)
    folder = tmp_path / "cache"
    assert encode_batches(net, NoiseSource(seed=4), _info(net), folder) == 3
    first = read_shard(shard_path(folder, 1)).crop_features
    shard_path(folder, 1).unlink()  # as if the process had been killed before writing it
    with pytest.raises(FormatError, match="1 of 3 shards missing"):
        CachedFeatureSource(folder)
    assert encode_batches(net, NoiseSource(seed=4), _info(net), folder) == 1
    torch.testing.assert_close(read_shard(shard_path(folder, 1)).crop_features, first, rtol=0, atol=0)
    with pytest.raises(ValueError, match="other settings"):
        encode_batches(net, NoiseSource(seed=4), _info(net, data_seed=5), folder)
    with pytest.raises(ValueError, match="other settings"):  # other steps than the cache's first ones
        encode_batches(net, NoiseSource(seed=4), _info(net, steps=(0, 2, 1, 3)), folder)
    assert encode_batches(net, NoiseSource(seed=4), _info(net, steps=(0, 1, 2, 3)), folder) == 1  # grown by one batch
    assert CachedFeatureSource(folder).num_shards == 4

    shard_path(folder, 2).write_bytes(shard_path(folder, 2).read_bytes()[:1000])  # truncated on disk
    with pytest.raises(FormatError, match="shard_000002"):
        read_shard(shard_path(folder, 2))
    with pytest.raises(FormatError, match="cache.json"):
        CachedFeatureSource(tmp_path / "empty")


def test_every_epoch_visits_every_shard_once_in_its_own_order(trained_weights, tmp_path):
    net, _ = load_trained_network(trained_weights)
    encode_batches(net, NoiseSource(seed=4), _info(net, steps=range(5)), tmp_path / "cache")
    source = CachedFeatureSource(tmp_path / "cache", seed=2)
    epochs = [[source.shard_for(epoch * 5 + k, 0) for k in range(5)] for epoch in range(3)]
    assert all(sorted(order) == list(range(5)) for order in epochs)
    assert len({tuple(order) for order in epochs}) > 1
    assert [source.shard_for(k, 1) for k in range(5)] != epochs[0]  # another rank, another order


def test_cached_steps_take_the_first_of_each_block():
    assert cached_steps(0, 7, per_block=3, block=40) == [0, 1, 2, 40, 41, 42, 80]
    assert cached_steps(41, 2, per_block=3, block=40) == [80, 81]  # starts at the next whole block
    assert cached_steps(0, 3, per_block=99, block=2) == [0, 1, 2]
