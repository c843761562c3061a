"""Training batches whose crops have already been through a frozen image encoder, cached on disk.

With ``TrainConfig.freeze_image_encoder`` the encoder's forward pass is nearly all of a training
step on a CPU: 10.7 of 11.5 s for the 443 crops of a 16 x 16-frame batch of the released encoder on
a 2-core AMD EPYC (session 9), against 0.5 s for everything after it, forward and backward. Encoding
each batch once and training the rest (FTL, fusion, temporal module, regressors) from the cache
makes every further pass over it ~25x cheaper (measured: 36 against 880-930 crops/s), so a CPU can
afford long temporal unrolls and several epochs. The price is a fixed set of batches: crop noise, brightness and scene are those they were
rendered with.

A cache folder holds ``cache.json`` (``FeatureCacheInfo``: what made it) and one shard per batch,
``shard_000012.pt``: a ``TrainBatch`` with ``crop_features`` (float16) instead of images, written
atomically, so an interrupted ``encode_batches`` resumes with the shards still missing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from umetrack.errors import FormatError, TrainingSetupError
from umetrack.fileio import atomic_write_json
from umetrack.model.checkpoint import read_checkpoint, save_checkpoint
from umetrack.model.fold import fold_batchnorm
from umetrack.model.network import UmeTrackNet
from umetrack.train.batch import TrainBatch
from umetrack.train.loop import BatchSource, prefetched_batches

INFO_NAME = "cache.json"
FEATURE_DTYPE = torch.float16
"""Features are post-convolution activations of order 1: float16 keeps 3 significant digits at half
the size of float32 (5.2 KB per crop)."""


@dataclass(frozen=True)
class FeatureCacheInfo:
    """What a cache was made from; training refuses a cache whose encoder is not the network's."""

    encoder: str
    """Encoder layout ("released" or "light")."""
    encoder_digest: str
    """``image_encoder_digest`` of the encoder that made the features."""
    data_seed: int
    crop_noise_scale: float
    sequences_per_batch: int
    sequence_length: int
    steps: tuple[int, ...]
    """The source's steps, in shard order (shard k holds step ``steps[k]``)."""

    def to_json(self) -> dict:
        return {**asdict(self), "steps": list(self.steps)}

    @staticmethod
    def from_json(document: dict, source: str | Path) -> "FeatureCacheInfo":
        try:
            return FeatureCacheInfo(**{**document, "steps": tuple(int(s) for s in document["steps"])})
        except (TypeError, KeyError, ValueError) as exc:
            raise FormatError(source, "", f"not a feature-cache description: {exc}") from None


def image_encoder_digest(net: UmeTrackNet) -> str:
    """A short hash of the image encoder's weights and BatchNorm statistics (as float32)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(net._feature_extractor._image_backbone.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def shard_path(folder: Path, index: int) -> Path:
    return folder / f"shard_{index:06d}.pt"


def missing_shards(folder: Path, info: FeatureCacheInfo) -> list[int]:
    """Indices of the shards ``info`` names that are not in ``folder`` (yet)."""
    return [k for k in range(len(info.steps)) if not shard_path(folder, k).exists()]


def cached_steps(first: int, count: int, per_block: int, block: int) -> list[int]:
    """``count`` source steps from ``first`` on, the first ``per_block`` of each block of ``block``
    steps: the synthetic source draws a block's batches from 4 sequences and one scene, so a cache of
    consecutive steps would hold few of either."""
    per_block = max(1, min(per_block, block))
    start = -(-first // block) * block
    return [start + (k // per_block) * block + k % per_block for k in range(count)]


def encode_batches(
    net: UmeTrackNet,
    source: BatchSource,
    info: FeatureCacheInfo,
    folder: str | Path,
    workers: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Render ``info.steps`` of ``source`` (rank 0), run their crops through ``net``'s image encoder
    (eval mode, BatchNorm folded, fp32, no gradients) and write one shard per step into ``folder``.
    Shards already there are kept (resume); more steps extend a cache whose steps they begin with
    (``--batches`` raised); a folder made with other settings is refused.

    Returns the number of shards written by this call. ``progress(done, total)`` after each shard.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    info_path = folder / INFO_NAME
    if info_path.exists():
        existing = read_cache_info(folder)
        extends = replace(existing, steps=info.steps) == info and info.steps[: len(existing.steps)] == existing.steps
        if not extends:
            raise TrainingSetupError(f"{folder}: holds a feature cache made with other settings ({existing}); use a new folder")
    atomic_write_json(info_path, info.to_json())  # names shards still to come: a source refuses it until they exist
    missing = missing_shards(folder, info)
    if progress is not None:
        progress(len(info.steps) - len(missing), len(info.steps))
    if not missing:
        return 0
    encoder = fold_batchnorm(net).to(memory_format=torch.channels_last)._feature_extractor
    steps = [info.steps[k] for k in missing]
    batches = prefetched_batches(source, steps, 0, info.sequences_per_batch, info.sequence_length, workers)
    for written, (index, batch) in enumerate(zip(missing, batches), start=1):
        S, T = batch.num_sequences, batch.sequence_length
        with torch.no_grad():
            features = encoder.encode_crops(batch.flat_crop_images(), batch.num_views.reshape(S * T))
        encoded = replace(batch, images=None, crop_features=features.to(FEATURE_DTYPE).reshape(S, T, *features.shape[1:]).contiguous())
        save_checkpoint(shard_path(folder, index), {"batch": encoded.tensors(), "step": int(info.steps[index])})
        if progress is not None:
            progress(len(info.steps) - len(missing) + written, len(info.steps))
    return len(missing)


def read_cache_info(folder: str | Path) -> FeatureCacheInfo:
    path = Path(folder) / INFO_NAME
    if not path.exists():
        raise FormatError(path, "", "no feature cache here (cache.json is missing); make one with `umetrack encode-crops`")
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(path, "", f"unreadable: {exc}") from None
    return FeatureCacheInfo.from_json(document, path)


class CachedFeatureSource:
    """``BatchSource`` over a feature cache: step ``s`` of rank ``r`` is a shard of epoch
    ``s // shards``, in an order shuffled per (seed, rank, epoch), so each rank sees every shard
    once per epoch. Every shard must be present (``encode_batches`` finished)."""

    steps_per_block = 1

    def __init__(self, folder: str | Path, seed: int = 0):
        self.folder = Path(folder)
        self.info = read_cache_info(self.folder)
        self.seed = int(seed)
        absent = missing_shards(self.folder, self.info)
        if absent:
            raise FormatError(self.folder, "", f"{len(absent)} of {len(self.info.steps)} shards missing (first: "
                              f"{shard_path(self.folder, absent[0]).name}); finish it with `umetrack encode-crops`")  # fmt: skip

    @property
    def num_shards(self) -> int:
        return len(self.info.steps)

    def shard_for(self, step: int, rank: int) -> int:
        epoch, position = divmod(int(step), self.num_shards)
        return int(np.random.default_rng([self.seed, rank, epoch]).permutation(self.num_shards)[position])

    def check_network(self, net: UmeTrackNet, config) -> None:
        """Refuse to train ``net`` on features its own image encoder would not produce, or would
        produce differently once trained (``config`` is a ``TrainConfig``)."""
        if not config.image_encoder_frozen:
            raise TrainingSetupError(f"{self.folder}: cached crop features train only the layers after the image encoder; "
                             "add --freeze-image-encoder")  # fmt: skip
        digest = image_encoder_digest(net)
        if config.encoder != self.info.encoder or digest != self.info.encoder_digest:
            raise TrainingSetupError(f"{self.folder}: the cached features come from another image encoder ({self.info.encoder}, "
                             f"{self.info.encoder_digest}) than this network's ({config.encoder}, {digest}); "
                             "start the run from the weights the cache was encoded with (--init-from)")  # fmt: skip

    def batch(self, step: int, rank: int, sequences: int, length: int) -> TrainBatch:
        if (sequences, length) != (self.info.sequences_per_batch, self.info.sequence_length):
            raise TrainingSetupError(f"{self.folder}: the cache holds {self.info.sequences_per_batch} sequences x {self.info.sequence_length} "
                             f"frames per batch; train with --batch {self.info.sequences_per_batch} --length {self.info.sequence_length}")  # fmt: skip
        return read_shard(shard_path(self.folder, self.shard_for(step, rank)))


def read_shard(path: Path) -> TrainBatch:
    document = read_checkpoint(path)
    tensors = document.get("batch")
    if not isinstance(tensors, dict) or not isinstance(tensors.get("crop_features"), torch.Tensor):
        raise FormatError(path, "batch", "not a feature-cache shard (no crop_features)")
    try:
        return TrainBatch(**{"images": None, **tensors})
    except TypeError as exc:
        raise FormatError(path, "batch", f"fields do not match a TrainBatch: {exc}") from None



