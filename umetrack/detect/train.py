"""Training the hand detector: render a fixed dataset of labelled synthetic views once (into the run
folder), then train on it with flips and photometric augmentation; resumable and deterministic.

Run folder: ``dataset.npz`` (the rendered views), ``checkpoint.pt`` (model, optimiser, step,
config), ``log.csv`` and ``weights.pt`` (model + config, exported at the end of every call: what
``HandDetector`` loads). Batch k is drawn from ``default_rng([seed, k])``, so a resumed run sees the
batches an uninterrupted one would.

Losses per view and side: presence, binary cross-entropy (weighted 0 for ambiguous hands); for
present hands, the spatial softmax of the heatmap against the normalised Gaussian target
(cross-entropy) and the L1 error of the log depth at the target cell.
"""

from __future__ import annotations

import io
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from umetrack.detect.data import DetectorDataset, build_dataset
from umetrack.synth.seeds import DETECTOR_TRAINING_SEED_START
from umetrack.detect.network import (
    HEATMAP_HEIGHT,
    HEATMAP_WIDTH,
    TARGET_SIGMA_CELLS,
    HandDetectorNet,
    image_to_heatmap,
)
from umetrack.fileio import atomic_write_bytes, atomic_write_json
from umetrack.hand.model import HandModel
from umetrack.model.checkpoint import load_state_dict_strict, read_checkpoint, save_checkpoint
from umetrack.train.schedule import warmup_cosine

CHECKPOINT_NAME = "checkpoint.pt"
DATASET_NAME = "dataset.npz"
WEIGHTS_NAME = "weights.pt"
WEIGHTS_KIND = "umetrack_hand_detector"


@dataclass(frozen=True)
class DetectorTrainConfig:
    steps: int = 3000
    batch: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    width: int = 16
    seed: int = 0
    sequences: int = 64
    """Synthetic sequences rendered for the dataset (seeds DETECTOR_TRAINING_SEED_START + seed * 1000 + i, ``umetrack.synth.seeds``)."""
    frames_per_sequence: int = 20
    checkpoint_every: int = 250
    flip_probability: float = 0.5
    depth_weight: float = 1.0

    def dataset_seeds(self) -> list[int]:
        return [DETECTOR_TRAINING_SEED_START + self.seed * 1000 + i for i in range(self.sequences)]

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(document: dict) -> DetectorTrainConfig:
        return DetectorTrainConfig(**document)


def load_or_build_dataset(config: DetectorTrainConfig, hand_model: HandModel, out_dir: Path,
                          progress: Callable[[int, int], None] | None = None) -> DetectorDataset:  # fmt: skip
    """The run folder's dataset, rendered (and saved atomically) on first use."""
    path = out_dir / DATASET_NAME
    if path.exists():
        with np.load(path) as arrays:
            return DetectorDataset.from_arrays({k: arrays[k] for k in arrays.files})
    dataset = build_dataset(hand_model, config.dataset_seeds(), config.frames_per_sequence, progress)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **dataset.to_arrays())
    atomic_write_bytes(path, buffer.getvalue())
    return dataset


@dataclass(frozen=True)
class TrainingBatch:
    """images (B, 1, 120, 160) float 0..1; cells (B, 2, 2) heatmap x, y; log_depth (B, 2);
    present (B, 2) float; presence_weight (B, 2)."""

    images: torch.Tensor
    cells: torch.Tensor
    log_depth: torch.Tensor
    present: torch.Tensor
    presence_weight: torch.Tensor


def make_batch(dataset: DetectorDataset, config: DetectorTrainConfig, step: int) -> TrainingBatch:
    """Batch ``step``: random views, horizontally flipped with left and right swapped (a mirrored left
    hand is a right hand), random gain, offset, gamma and noise."""
    rng = np.random.default_rng([config.seed, step])
    index = rng.integers(len(dataset), size=config.batch)
    images = dataset.images[index].astype(np.float32) / 255.0
    centres = dataset.centres_px[index].astype(np.float64)
    depth = dataset.depth_m[index].astype(np.float64)
    present = dataset.present[index].astype(np.float32)
    weight = dataset.presence_weight[index].astype(np.float32)
    width = dataset.image_size[0]
    flip = rng.random(config.batch) < config.flip_probability
    images[flip] = images[flip, :, ::-1]
    for array in (centres, depth, present, weight):
        array[flip] = array[flip, ::-1]
    centres[flip, :, 0] = (width - 1) - centres[flip, :, 0]
    gain = np.exp(rng.normal(0.0, 0.3, config.batch))[:, None, None]
    gamma = np.exp(rng.normal(0.0, 0.2, config.batch))[:, None, None]
    offset = rng.normal(0.0, 0.04, config.batch)[:, None, None]
    noise = rng.uniform(0.0, 0.015, config.batch)[:, None, None] * rng.standard_normal(images.shape)
    images = np.clip(np.clip(images * gain + offset, 0.0, 1.0) ** gamma + noise, 0.0, 1.0).astype(np.float32)
    cells = image_to_heatmap(centres, dataset.image_size)
    return TrainingBatch(
        images=torch.from_numpy(images)[:, None],
        cells=torch.from_numpy(cells).float(),
        log_depth=torch.from_numpy(np.log(np.maximum(depth, 1e-3))).float(),
        present=torch.from_numpy(present),
        presence_weight=torch.from_numpy(weight),
    )


def detector_losses(net: HandDetectorNet, batch: TrainingBatch, depth_weight: float = 1.0) -> dict[str, torch.Tensor]:
    """Presence BCE, heatmap cross-entropy and log-depth L1 (see the module docstring)."""
    output = net(batch.images)
    presence = F.binary_cross_entropy_with_logits(output.presence_logit, batch.present, weight=batch.presence_weight)
    xs = torch.arange(HEATMAP_WIDTH, dtype=torch.float32)
    ys = torch.arange(HEATMAP_HEIGHT, dtype=torch.float32)
    d2 = (xs[None, None, None, :] - batch.cells[..., 0, None, None]) ** 2 + (ys[None, None, :, None] - batch.cells[..., 1, None, None]) ** 2
    target = torch.softmax((-d2 / (2 * TARGET_SIGMA_CELLS**2)).flatten(2), -1)
    log_probability = torch.log_softmax(output.heatmap_logits.flatten(2), -1)
    heatmap_per_hand = -(target * log_probability).sum(-1)  # (B, 2)
    cell_x = batch.cells[..., 0].round().clamp(0, HEATMAP_WIDTH - 1).long()
    cell_y = batch.cells[..., 1].round().clamp(0, HEATMAP_HEIGHT - 1).long()
    flat = (cell_y * HEATMAP_WIDTH + cell_x)[..., None]
    predicted_depth = output.log_depth.flatten(2).gather(-1, flat)[..., 0]
    depth_per_hand = (predicted_depth - batch.log_depth).abs()
    count = batch.present.sum().clamp_min(1.0)
    heatmap = (heatmap_per_hand * batch.present).sum() / count
    depth = (depth_per_hand * batch.present).sum() / count
    return {"loss": presence + heatmap + depth_weight * depth, "presence": presence, "heatmap": heatmap, "depth": depth}


def learning_rate_at(config: DetectorTrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to zero."""
    return warmup_cosine(step, config.learning_rate, config.warmup_steps, config.steps)


def export_detector_weights(net: HandDetectorNet, config: DetectorTrainConfig, path: str | Path, step: int) -> None:
    """What ``HandDetector`` loads: {"kind", "model" (state_dict), "config", "step"}."""
    save_checkpoint(path, {"kind": WEIGHTS_KIND, "model": net.state_dict(), "config": config.to_json(), "step": step})


def train_detector(
    config: DetectorTrainConfig,
    hand_model: HandModel,
    out_dir: str | Path,
    progress: Callable[[int, dict[str, float]], None] | None = None,
    dataset_progress: Callable[[int, int], None] | None = None,
    stop_after: int | None = None,
) -> HandDetectorNet:
    """Train (or resume) in ``out_dir``; ``stop_after`` ends this call after that many steps."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    net = HandDetectorNet(config.width)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    step = 0
    checkpoint_path = out_dir / CHECKPOINT_NAME
    if checkpoint_path.exists():
        document = read_checkpoint(checkpoint_path)
        if DetectorTrainConfig.from_json(document["config"]) != config:
            raise ValueError(f"{checkpoint_path}: trained with a different config; use a new output folder")
        load_state_dict_strict(net, document["model"], checkpoint_path)
        optimizer.load_state_dict(document["optimizer"])
        step = int(document["step"])
    atomic_write_json(out_dir / "config.json", config.to_json())
    dataset = load_or_build_dataset(config, hand_model, out_dir, dataset_progress)
    end = config.steps if stop_after is None else min(config.steps, step + stop_after)
    net.train()
    log_path = out_dir / "log.csv"
    while step < end:
        started = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(config, step)
        losses = detector_losses(net, make_batch(dataset, config, step), config.depth_weight)
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        optimizer.step()
        step += 1
        metrics = {k: float(v.detach()) for k, v in losses.items()} | {"step_ms": 1e3 * (time.perf_counter() - started)}
        if step % 50 == 0 or step == end:
            header = not log_path.exists()
            with open(log_path, "a") as log:
                if header:
                    log.write("step," + ",".join(metrics) + "\n")
                log.write(f"{step}," + ",".join(f"{v:.5g}" for v in metrics.values()) + "\n")
        if step % config.checkpoint_every == 0 or step == end:
            save_checkpoint(checkpoint_path, {"model": net.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "config": config.to_json()})
        if progress is not None:
            progress(step, metrics)
    net.eval()
    export_detector_weights(net, config, out_dir / WEIGHTS_NAME, step)
    return net
