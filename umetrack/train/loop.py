"""The training loop: losses over unrolled sequences, mixed precision, DDP via torchrun, exact resume.

Launch with ``umetrack train`` (one process) or ``torchrun --nproc-per-node N -m umetrack.cli train``
(several; gloo on CPU, nccl on GPU). Data parallelism averages gradients with one all-reduce of a
flat buffer per step and broadcasts BatchNorm statistics from rank 0, which is what
DistributedDataParallel does, but stays correct when the loss code calls the network's step
methods directly and some modules (the 2-view fusion) sit idle on a step. Every rank draws its data for step k as a pure function of
(seed, rank, k), so resuming from a checkpoint replays exactly the batches an uninterrupted run
would have seen, and no data-loader state needs saving.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol, Sequence

import torch
import torch.distributed as dist
from torch import nn

from umetrack.errors import TrainingSetupError
from umetrack.hand.fk import left_hand_wrist
from umetrack.hand.model import HandModel
from umetrack.model.checkpoint import load_state_dict_strict, read_checkpoint, save_checkpoint
from umetrack.model.network import RELEASED_ENCODER, EncoderConfig, PoseOutput, TemporalState, UmeTrackNet
from umetrack.model.root import points_from_rigid
from umetrack.train import losses
from umetrack.train.batch import TrainBatch
from umetrack.train.schedule import warmup_cosine

ENCODERS = {
    "released": RELEASED_ENCODER,
    # A quarter-width encoder for CPU training: ~8x fewer FLOPs, same output layout (72x6x6).
    "light": EncoderConfig(widths=(16, 32, 64, 128), blocks=(1, 2, 2, 1), stem_width=16),
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (saved next to the weights)."""

    steps: int = 20_000
    sequences_per_batch: int = 16
    sequence_length: int = 4
    learning_rate: float = 2e-4
    warmup_steps: int = 200
    min_learning_rate_ratio: float = 0.05
    temporal_losses_from: float = 0.5
    """Fraction of training after which L_temp and L_pinch switch on (the paper trains 200 epochs
    without them, then 200 with)."""
    encoder: str = "released"
    seed: int = 0
    checkpoint_every: int = 200
    log_every: int = 10
    precision: str = "auto"
    """"fp32", "bf16", "fp16" or "auto" (bf16 where it is native: CUDA, or a CPU with oneDNN bf16 kernels; fp32 otherwise)."""
    channels_last: bool = True
    gradient_clip: float = 5.0
    batch_norm_recalibration: int = 50
    """Batches (drawn after the schedule's last step) whose average BatchNorm statistics replace
    the running ones when the schedule ends (``recalibrate_batch_norm``); 0 keeps the running ones."""
    pinch_weight: float = losses.LAMBDA_PINCH
    """Weight of L_pinch (the paper's 0.4). The hinge acts on one distance while the pose loss sums 21
    landmarks, so at 0.4 it is ~2 % of the loss; the first GPU model predicted pinch poses open
    (median thumb-index distance 44 mm where the truth is 5 mm), so runs may raise it."""
    freeze_image_encoder: bool = False
    """Train everything but the image encoder (backbone + 1x1 projection): it runs in eval mode
    without gradients, so its weights and BatchNorm statistics stay those of ``init_weights``. A
    step then has no backward pass through the encoder, which buys the temporal module longer
    unrolls per CPU-hour (measured: 120-165 crops/s with the released encoder, 16 sequences x 16
    frames, bf16 on a 2-core AMX CPU); the fusion, temporal module, skeleton encoder and regressors
    still learn, and the schedule's BatchNorm recalibration leaves the encoder's statistics alone."""
    train_only_temporal_module: bool = False
    """Keep every layer fixed (eval mode, no gradients) but the recurrent temporal module, which
    implies a frozen image encoder. The shipped network was trained on 4-frame sequences, so its
    memory hurt over long recordings (held-out 18.1 mm with it, 16.5 mm without); this teaches the
    memory long unrolls while the per-frame layers, and their BatchNorm statistics, stay as they
    were, so a small set of long sequences (a feature cache) cannot pull the per-frame accuracy
    towards its few scenes."""
    crop_noise_scale: float = 1.0
    """Multiplies the synthetic data's crop-placement noise (``SyntheticDataConfig``): crops placed
    from poses as wrong as the model's own predictions teach it to recover instead of drifting."""

    @property
    def image_encoder_frozen(self) -> bool:
        return self.freeze_image_encoder or self.train_only_temporal_module

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_json(document: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        return TrainConfig(**{k: v for k, v in document.items() if k in known})


class BatchSource(Protocol):
    """Deterministic data: the batch for (step, rank) never depends on what was drawn before.

    Optional: ``steps_per_block`` (see ``prefetched_batches``) and ``check_network(net, config)``,
    which ``train`` calls once the network holds its initial weights, to refuse data it cannot use."""

    def batch(self, step: int, rank: int, sequences: int, length: int) -> TrainBatch: ...


def make_network(encoder: str) -> UmeTrackNet:
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; choose one of {sorted(ENCODERS)}")
    return UmeTrackNet(ENCODERS[encoder])


def autocast_dtype_for(precision: str, device: torch.device) -> torch.dtype | None:
    if precision == "fp32":
        return None
    if precision == "fp16":
        return torch.float16
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    # Without oneDNN's bf16 kernels (AVX2-only CPUs) bf16 is emulated: a frozen-encoder training
    # step measured 77 s against 15 s in fp32 on a 2-core AMD EPYC.
    return torch.bfloat16 if cpu_has_fast_bf16() else None


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU runs bf16 convolutions natively (oneDNN's test: AVX512-BF16, AMX or AVX512-core)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


@dataclass
class StepResult:
    loss: torch.Tensor
    metrics: dict[str, float]


def sequence_losses(
    net: nn.Module,
    hand_model: HandModel,
    batch: TrainBatch,
    temporal_losses: bool,
    autocast_dtype: torch.dtype | None = None,
    pinch_weight: float = losses.LAMBDA_PINCH,
) -> StepResult:
    """Unroll the network over the batch's sequences and sum the paper's losses (mean per hand-step).

    Only the temporal module is recurrent: the encoder and fusion run once over all S x T steps and
    the regressors once over all outputs, so every BatchNorm layer normalises the whole batch (as
    the running statistics used at inference will) and the convolutions run in large batches.
    """
    device = batch.num_views.device
    S, T = batch.num_sequences, batch.sequence_length
    flat = S * T
    skeleton = torch.stack([hand_model.scaled(s).skeleton_features() for s in batch.hand_scale.float()]).to(device)
    E = batch.extrinsics.float().reshape(flat, *batch.extrinsics.shape[2:])  # (S*T, 2, 4, 4), row s*T + t
    hand_index = batch.hand_index.repeat_interleave(T)
    with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
        focal, num_views = batch.focal.reshape(flat, -1).float(), batch.num_views.reshape(flat)
        if batch.crop_features is not None:  # the image encoder ran when the features were cached
            features = batch.crop_features.reshape(flat, *batch.crop_features.shape[2:]).float()
            z = net.spatial_features_from_crop_features(features, focal, E, num_views)
        else:
            z = net.spatial_features(batch.flat_crop_images(), focal, E, num_views)
        z = z.reshape(S, T, *z.shape[1:])
        state: TemporalState | None = None
        z_t = []
        for t in range(T):
            out_t, state = net.temporal_step(z[:, t], batch.extrinsics[:, t, 0].float(), state, batch.use_memory[:, t])
            z_t.append(out_t)
        z_t = torch.stack(z_t, dim=1).flatten(0, 1)
        out_k = net.regress_known(z_t, skeleton.repeat_interleave(T, dim=0), E[:, 0], hand_index, state)
        out_u = net.regress_unknown(z_t, E[:, 0], hand_index, state)
    T_world_true = batch.T_world_from_wrist.float().reshape(flat, 4, 4)
    T_crop_true = E[:, 0] @ left_hand_wrist(T_world_true, hand_index)
    targets = losses.PoseTargets(
        joint_angles=batch.joint_angles.float().reshape(flat, -1),
        T_crop_from_wrist=T_crop_true,
        wrist_points=points_from_rigid(T_crop_true),
        hand_scale=batch.hand_scale.float().repeat_interleave(T),
        pinch=batch.pinch.float().reshape(flat),
    )
    step_loss = torch.zeros(flat, device=device)
    metrics: dict[str, float] = {}
    for head, out in (("k", out_k), ("u", out_u)):
        pose, pred_kp, true_kp = losses.pose_loss(hand_model, out.joint_angles, out.T_crop_from_wrist, targets, out.hand_scale)
        step_loss = step_loss + pose + losses.LAMBDA_WRIST_POINTS * losses.wrist_points_loss(out.wrist_points, targets)
        step_loss = step_loss + losses.LAMBDA_UNCERTAINTY * losses.uncertainty_loss(out.uncertainty, pred_kp, true_kp)
        metrics[f"mpjpe_{head}_mm"] = 1000.0 * (pred_kp - true_kp).norm(dim=-1).mean().item()
        if head == "k":
            if temporal_losses:
                step_loss = step_loss + pinch_weight * losses.pinch_loss(pred_kp, targets.pinch)
        else:
            # Scale is only observable with two views (depth from one view is ambiguous).
            two_views = (batch.num_views.reshape(flat) == 2).float()
            step_loss = step_loss + losses.LAMBDA_SCALE * two_views * losses.scale_loss(out.hand_scale, targets)
            metrics["scale_error"] = (out.hand_scale / targets.hand_scale - 1.0).abs().mean().item()
    loss = step_loss.mean()
    temporal = torch.zeros((), device=device)
    if temporal_losses and T >= 3:
        angles = out_k.joint_angles.reshape(S, T, -1)
        wrists = out_k.T_world_from_wrist.reshape(S, T, 4, 4)
        continuous = torch.ones(S, T, dtype=torch.bool, device=device)
        continuous[:, 1:] = batch.use_memory[:, 1:]
        temporal = losses.temporal_loss(angles, wrists, continuous).mean()
        loss = loss + losses.LAMBDA_TEMPORAL * temporal
    return StepResult(loss, {"loss": loss.item(), **metrics, "temporal": temporal.item()})


def recalibrate_batch_norm(
    net: nn.Module,
    hand_model: HandModel,
    batches: Iterable[TrainBatch],
    autocast_dtype: torch.dtype | None = None,
    keep: Sequence[nn.Module] = (),
) -> int:
    """Set every BatchNorm layer's running statistics to their exact average over ``batches``.

    Running statistics are an exponential average over batches seen while the weights were still
    moving, so at the end of a short schedule they lag the final weights; the network then sees
    different normalisation at inference than in training (measured on the first CPU model: 43 mm
    MPJPE in eval mode against 36 mm in training mode on the same crops). Forward passes in
    training mode without gradients, with ``momentum=None`` (cumulative average), fix that
    without touching any weight. ``keep`` (frozen modules, ``frozen_modules``) runs in eval mode and
    keeps its statistics. Returns the number of batches used (0 when every BatchNorm layer is kept);
    every module's mode is restored.
    """
    batches = iter(batches)
    first = next(batches, None)
    if first is None:  # checked before the statistics are reset, so they are never left empty
        raise ValueError("recalibrate_batch_norm needs at least one batch")
    modes = {m: m.training for m in net.modules()}
    norms = batch_norms_outside(net, keep)
    if not norms:
        return 0
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    for module in keep:
        module.eval()
    count = 0
    with torch.no_grad():
        for batch in itertools.chain([first], batches):
            sequence_losses(net, hand_model, batch, temporal_losses=False, autocast_dtype=autocast_dtype)
            count += 1
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    for m, training in modes.items():
        m.train(training)
    return count


def batch_norms_outside(net: nn.Module, kept: Sequence[nn.Module]) -> list[nn.modules.batchnorm._BatchNorm]:
    """The BatchNorm layers of ``net`` that are not inside any of the ``kept`` modules."""
    inside = {m for module in kept for m in module.modules()}
    return [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m not in inside]


def learning_rate_at(config: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to ``min_learning_rate_ratio`` of the peak."""
    return warmup_cosine(step, config.learning_rate, config.warmup_steps, config.steps, config.min_learning_rate_ratio)


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> Distributed:
    """Join the torchrun process group when launched by torchrun (WORLD_SIZE > 1)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Distributed(dist.get_rank(), dist.get_world_size())


CHECKPOINT_NAME = "checkpoint.pt"
WEIGHTS_NAME = "weights.pt"
CONFIG_NAME = "config.json"
LOG_NAME = "log.csv"


def train(
    config: TrainConfig,
    source: BatchSource,
    hand_model: HandModel,
    out_dir: str | Path,
    device: str | torch.device = "cpu",
    progress: Callable[[int, dict[str, float]], None] | None = None,
    stop_after: int | None = None,
    data_workers: int = 0,
    init_weights: str | Path | None = None,
) -> UmeTrackNet:
    """Train (or resume) into ``out_dir``; returns the trained network (unwrapped, train mode).

    ``stop_after`` ends this call after that many steps of the schedule (for time-boxed CPU runs
    and tests); the schedule itself is still ``config.steps`` long, so a later call resumes it.
    ``data_workers`` > 0 renders batches in that many worker processes ahead of the optimiser
    (the batches are the same as with 0: each is a pure function of its step).
    ``init_weights`` starts a *new* run from exported weights (``weights.pt`` of an earlier run,
    same encoder) with a fresh optimiser: how a CPU-trained model keeps improving across sessions
    without committing multi-MB optimiser state. Ignored when ``out_dir`` holds a checkpoint.
    """
    device = torch.device(device)
    out_dir = Path(out_dir)
    checkpoint_path = out_dir / CHECKPOINT_NAME
    ddp = init_distributed(device)
    torch.manual_seed(config.seed)  # identical initial weights on every rank
    net = make_network(config.encoder).to(device)
    if config.channels_last:
        net = net.to(memory_format=torch.channels_last)
    frozen = frozen_modules(net, config)
    if frozen:
        if init_weights is None and not checkpoint_path.exists():
            raise TrainingSetupError("freezing layers (freeze_image_encoder, train_only_temporal_module) needs init_weights (trained layers to keep)")
        for module in frozen:
            module.requires_grad_(False)
    optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=config.learning_rate)
    start_step = 0
    if checkpoint_path.exists():
        document = read_checkpoint(checkpoint_path)
        # Compared as configs, so a checkpoint written before a field existed still resumes at its default.
        if not isinstance(document.get("config"), dict) or TrainConfig.from_json(document["config"]) != config:
            raise TrainingSetupError(f"{checkpoint_path}: checkpoint was trained with a different config; use a new output folder")
        load_state_dict_strict(net, document["model"], checkpoint_path)
        optimizer.load_state_dict(document["optimizer"])
        start_step = int(document["step"])
    elif init_weights is not None:
        initial, initial_config = load_trained_network(init_weights)
        if initial_config is not None and initial_config.encoder != config.encoder:
            raise TrainingSetupError(f"{init_weights}: weights of the {initial_config.encoder!r} encoder cannot start a {config.encoder!r} run")
        net.load_state_dict(initial.state_dict())
    check_network = getattr(source, "check_network", None)  # e.g. a feature cache: made by this network's encoder?
    if check_network is not None:
        check_network(net, config)
    if ddp.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / CONFIG_NAME).write_text(json.dumps(config.to_json(), indent=1))
    if ddp.world_size > 1:
        _broadcast_state(net)
    autocast_dtype = autocast_dtype_for(config.precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=autocast_dtype == torch.float16)
    hand_model = hand_model.to(torch.float32, device)
    end_step = config.steps if stop_after is None else min(config.steps, start_step + stop_after)
    log_path = out_dir / LOG_NAME
    net.train()
    for module in frozen:
        module.eval()
    batches = prefetched_batches(source, range(start_step, end_step), ddp.rank, config.sequences_per_batch, config.sequence_length, data_workers)
    started = time.perf_counter()
    for step, batch in zip(range(start_step, end_step), batches):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(config, step)
        batch = batch.to(device)
        temporal = step >= config.temporal_losses_from * config.steps
        result = sequence_losses(net, hand_model, batch, temporal, autocast_dtype, config.pinch_weight)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(result.loss).backward()
        if ddp.world_size > 1:
            _average_gradients(net, ddp.world_size)
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(net.parameters(), config.gradient_clip)
        scaler.step(optimizer)
        scaler.update()
        if ddp.world_size > 1:
            _broadcast_state(net, buffers_only=True)
        # Wall time per step including any wait for data: what the run actually sustains.
        elapsed, started = time.perf_counter() - started, time.perf_counter()
        metrics = {**result.metrics, "lr": optimizer.param_groups[0]["lr"], "crops_per_s": batch.num_crops / elapsed}
        if ddp.is_main and (step % config.log_every == 0 or step == end_step - 1):
            _append_log(log_path, step, metrics)
        if progress is not None and ddp.is_main:
            progress(step, metrics)
        done = step + 1
        if ddp.is_main and (done % config.checkpoint_every == 0 or done == end_step):
            save_checkpoint(checkpoint_path, {"model": net.state_dict(), "optimizer": optimizer.state_dict(), "step": done, "config": config.to_json()})
    recalibrates = config.batch_norm_recalibration > 0 and bool(batch_norms_outside(net, frozen))
    if end_step > start_step and end_step == config.steps and recalibrates:
        # Schedule complete: exact BatchNorm statistics for the final weights (rank 0's, shared),
        # over batches never trained on, each from a different block of sequences.
        extra = spread_steps(config.steps, config.batch_norm_recalibration, steps_per_block(source))
        calibration = prefetched_batches(source, extra, ddp.rank, config.sequences_per_batch, config.sequence_length, data_workers)
        recalibrate_batch_norm(net, hand_model, (b.to(device) for b in calibration), autocast_dtype, keep=frozen)
        if ddp.world_size > 1:
            _broadcast_state(net, buffers_only=True)
    if ddp.is_main and end_step > start_step:  # every call, time-boxed or not, leaves usable weights
        export_weights(net, config, out_dir / WEIGHTS_NAME, end_step)
    if ddp.world_size > 1:
        dist.barrier()
    return net


def frozen_modules(net: UmeTrackNet, config: TrainConfig) -> list[nn.Module]:
    """The modules ``config`` keeps fixed: none, the image backbone (``freeze_image_encoder``), or
    everything but the temporal module (``train_only_temporal_module``)."""
    if config.train_only_temporal_module:
        return [module for name, module in net.named_children() if module is not net._temporal]
    if config.freeze_image_encoder:
        return [net._feature_extractor._image_backbone]
    return []


class _StepBlocks(torch.utils.data.Dataset):
    """Index = a run of steps of one block: lets a DataLoader render future blocks in worker processes."""

    def __init__(self, source: BatchSource, blocks: list[list[int]], rank: int, sequences: int, length: int):
        self.source, self.blocks, self.rank, self.sequences, self.length = source, blocks, rank, sequences, length

    def __getitem__(self, index: int) -> list[TrainBatch]:
        return [self.source.batch(step, self.rank, self.sequences, self.length) for step in self.blocks[index]]

    def __len__(self) -> int:
        return len(self.blocks)


def step_blocks(steps: Sequence[int], block: int) -> list[list[int]]:
    """``steps`` in order, cut into runs of consecutive entries that lie in the same aligned block of ``block`` steps."""
    pieces: list[list[int]] = []
    for step in steps:
        if pieces and pieces[-1][-1] // block == step // block:
            pieces[-1].append(step)
        else:
            pieces.append([step])
    return pieces


def steps_per_block(source: BatchSource) -> int:
    """How many consecutive steps of ``source`` share cached sequences (1 when it does not say)."""
    return max(1, int(getattr(source, "steps_per_block", 1)))


def spread_steps(start: int, count: int, block: int) -> list[int]:
    """``count`` steps from ``start`` on, one per aligned block of ``block`` steps: batches from as
    many different sequences and scenes as there are steps (the synthetic source draws a block's
    batches from the same 4 sequences and scene), for statistics that describe the data, not a block."""
    first = -(-start // block) * block
    return [first + k * block for k in range(count)]


def prefetched_batches(source: BatchSource, steps: Sequence[int], rank: int, sequences: int, length: int, workers: int):
    """Yield the batch of each step in ``steps``, in order; with ``workers`` > 0 they are rendered
    ahead in worker processes ("spawn": the renderer's GL context must not be forked).

    Each worker renders whole blocks of ``source.steps_per_block`` consecutive steps (1 when the
    source has no such attribute): the synthetic source draws a block's batches from the same few
    cached sequences and scene, which cost more to build than the batches themselves, so handing
    workers interleaved steps made every worker rebuild every sequence (measured: 109 crops/s per
    worker interleaved over 14 workers, 392 for consecutive steps).
    """
    if workers <= 0:
        return (source.batch(step, rank, sequences, length) for step in steps)
    blocks = step_blocks(steps, steps_per_block(source))
    if not blocks:
        return iter(())
    loader = torch.utils.data.DataLoader(
        _StepBlocks(source, blocks, rank, sequences, length),
        batch_size=None,
        num_workers=min(workers, len(blocks)),
        prefetch_factor=2,
        multiprocessing_context="spawn",
    )
    return itertools.chain.from_iterable(loader)


def _average_gradients(net: nn.Module, world_size: int) -> None:
    """All-reduce the mean gradient of every parameter (idle parameters contribute zeros)."""
    params = [p for p in net.parameters() if p.requires_grad]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def _broadcast_state(net: nn.Module, buffers_only: bool = False) -> None:
    """Make every rank hold rank 0's parameters (unless buffers_only) and BatchNorm buffers."""
    tensors = list(net.buffers()) if buffers_only else [*net.parameters(), *net.buffers()]
    for tensor in tensors:
        dist.broadcast(tensor.data, src=0)


def export_weights(net: UmeTrackNet, config: TrainConfig, path: str | Path, step: int | None = None) -> None:
    """Ship weights: a plain fp16 state_dict plus the config (and the step of the schedule they
    were taken at), loadable with weights_only=True."""
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in net.state_dict().items()}
    document = {"model": state, "config": config.to_json(), "format": "umetrack-studio-weights-v1"}
    if step is not None:
        document["step"] = int(step)
    save_checkpoint(path, document)


def load_trained_network(path: str | Path, device: str | torch.device = "cpu") -> tuple[UmeTrackNet, TrainConfig | None]:
    """Load shipped weights (ours, with config) or a released-layout plain state_dict; eval mode, fp32."""
    document = read_checkpoint(path)
    config = TrainConfig.from_json(document["config"]) if isinstance(document.get("config"), dict) else None
    net = make_network(config.encoder if config else "released")
    state = document.get("model", document)
    load_state_dict_strict(net, {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, path)
    return net.to(device).eval(), config


def _append_log(path: Path, step: int, metrics: dict[str, float]) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(["step", *metrics])
        writer.writerow([step, *(f"{v:.6g}" for v in metrics.values())])
