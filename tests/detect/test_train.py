"""Detector training resumes exactly, and its batches flip left and right consistently."""

from __future__ import annotations

import io

import numpy as np
import torch

from umetrack.detect.data import DetectorDataset
from umetrack.detect.network import heatmap_to_image
from umetrack.detect.train import DATASET_NAME, DetectorTrainConfig, make_batch, train_detector
from umetrack.fileio import atomic_write_bytes


def _tiny_dataset(views: int = 12) -> DetectorDataset:
    rng = np.random.default_rng(0)
    present = rng.random((views, 2)) < 0.7
    return DetectorDataset(
        images=rng.integers(0, 255, (views, 120, 160), dtype=np.uint8),
        centres_px=rng.uniform([0, 0], [639, 479], (views, 2, 2)).astype(np.float32),
        depth_m=rng.uniform(0.2, 0.6, (views, 2)).astype(np.float32),
        present=present,
        presence_weight=np.ones((views, 2), np.float32),
        image_size=(640, 480),
    )


def _run_folder(path, dataset):
    path.mkdir()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **dataset.to_arrays())
    atomic_write_bytes(path / DATASET_NAME, buffer.getvalue())  # a stored dataset is used, not re-rendered
    return path


def test_resumed_training_equals_an_uninterrupted_run(tmp_path, hand_model):
    torch.set_num_threads(1)
    dataset = _tiny_dataset()
    config = DetectorTrainConfig(steps=4, batch=4, warmup_steps=1, checkpoint_every=2)
    whole = train_detector(config, hand_model, _run_folder(tmp_path / "a", dataset))
    train_detector(config, hand_model, _run_folder(tmp_path / "b", dataset), stop_after=2)
    resumed = train_detector(config, hand_model, tmp_path / "b")
    for key, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    document = torch.load(tmp_path / "b" / "weights.pt", map_location="cpu", weights_only=True)
    assert document["step"] == 4 and document["kind"] == "umetrack_hand_detector"


def test_flipped_batches_mirror_the_image_and_swap_the_sides():
    dataset = _tiny_dataset(1)
    flipped = make_batch(dataset, DetectorTrainConfig(batch=1, flip_probability=1.0), 0)
    plain = make_batch(dataset, DetectorTrainConfig(batch=1, flip_probability=0.0), 0)
    pixels = heatmap_to_image(flipped.cells[0].double().numpy(), (640, 480))
    np.testing.assert_allclose(pixels[0], [639 - dataset.centres_px[0, 1, 0], dataset.centres_px[0, 1, 1]], atol=1e-3)
    assert torch.equal(flipped.present[0], plain.present[0].flip(0))
    assert torch.equal(flipped.log_depth[0], plain.log_depth[0].flip(0))


def test_detector_never_trains_on_evaluation_or_held_out_sequences():
    """A seed fixes a whole synthetic recording, so sharing one would leak its motion into training."""
    from umetrack.synth.seeds import DETECTOR_HELD_OUT_SEED_START, EVALUATION_RECORDING_SEEDS, VALIDATION_RECORDING_SEEDS

    assert not set(EVALUATION_RECORDING_SEEDS) & set(VALIDATION_RECORDING_SEEDS)
    for seed in range(5):
        training = set(DetectorTrainConfig(seed=seed, sequences=1000).dataset_seeds())
        assert not training & set(EVALUATION_RECORDING_SEEDS)
        assert not training & set(VALIDATION_RECORDING_SEEDS)
        assert not training & set(range(DETECTOR_HELD_OUT_SEED_START, DETECTOR_HELD_OUT_SEED_START + 1000))
