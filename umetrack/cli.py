"""The ``umetrack`` command line. Subcommands grow with the project (synth, train, eval, track ...)."""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

from umetrack.errors import UmeTrackError
from umetrack.resources import HAND_MODEL as DEFAULT_HAND_MODEL


def _hand_model_info(args: argparse.Namespace) -> int:
    from umetrack.hand.io import load_hand_model

    model = load_hand_model(args.path)
    landmarks = model.landmark_rest_positions
    length_mm = 1000.0 * float((landmarks[2] - landmarks[5]).norm())
    print(f"{args.path}: valid UmeTrack hand model (left hand)")
    print(f"  mesh: {model.num_vertices} vertices, {len(model.mesh_triangles)} triangles")
    print(f"  wrist to middle fingertip: {length_mm:.1f} mm; hand_scale field {model.hand_scale:g}")
    return 0


def _synth(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from umetrack.hand.io import load_hand_model
    from umetrack.recording import write_umetrack_raw
    from umetrack.synth.recording import synthetic_recording

    if args.frames < 1:
        raise SystemExit("umetrack synth: --frames must be at least 1")
    if not 1 <= args.views <= 4:
        raise SystemExit("umetrack synth: --views must be 1..4")
    model = load_hand_model(args.hand_model) if args.hand_model else load_hand_model(DEFAULT_HAND_MODEL)
    recording = synthetic_recording(model, args.frames, args.seed, args.views, name=args.name)
    with tqdm(total=args.frames, unit="frame", desc=f"rendering {args.name}") as bar:
        video, labels = write_umetrack_raw(recording, Path(args.out) / args.name, crf=args.crf, progress=lambda done: bar.update(done - bar.n))
    pinch = int(recording.pinch.frames.sum())
    print(f"wrote {video} ({video.stat().st_size / 1e6:.1f} MB) and {labels.name}: {args.frames} frames, "
          f"{args.views} views, hand scale {recording.hand_model.landmark_rest_positions.norm() / model.landmark_rest_positions.norm():.3f}, "
          f"{pinch} pinch frames")  # fmt: skip
    return 0


def _train(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from umetrack.hand.io import load_hand_model
    from umetrack.train.loop import TrainConfig, train

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and "LOCAL_RANK" in os.environ:
        device = f"cuda:{os.environ['LOCAL_RANK']}"
        torch.cuda.set_device(device)
    config = TrainConfig(
        steps=args.steps,
        sequences_per_batch=args.batch,
        sequence_length=args.length,
        learning_rate=args.lr,
        encoder=args.encoder,
        seed=args.seed,
        precision=args.precision,
        checkpoint_every=args.checkpoint_every,
        crop_noise_scale=args.crop_noise,
        batch_norm_recalibration=args.bn_batches,
        pinch_weight=TrainConfig.pinch_weight if args.pinch_weight is None else args.pinch_weight,
        freeze_image_encoder=args.freeze_image_encoder,
        train_only_temporal_module=args.train_only_temporal_module,
    )
    model = load_hand_model(args.hand_model) if args.hand_model else load_hand_model(DEFAULT_HAND_MODEL)
    if args.features:
        from dataclasses import replace

        from umetrack.train.feature_cache import CachedFeatureSource

        source = CachedFeatureSource(args.features, seed=args.seed)
        config = replace(config, crop_noise_scale=source.info.crop_noise_scale)  # recorded as the cache was rendered
        args.workers = 0  # reading a shard costs milliseconds: no render processes
    else:
        source = _training_data(model, args.seed, config.crop_noise_scale)
    main_process = int(os.environ.get("RANK", "0")) == 0
    with tqdm(total=config.steps, unit="step", disable=not main_process, desc="training") as bar:
        def progress(step: int, metrics: dict[str, float]) -> None:
            bar.n = step + 1
            bar.set_postfix(loss=f"{metrics['loss']:.3f}", mpjpe_k=f"{metrics['mpjpe_k_mm']:.1f}mm", crops_s=f"{metrics['crops_per_s']:.0f}")
            bar.refresh()

        train(config, source, model, args.out, device, progress=progress, stop_after=args.stop_after,
              data_workers=args.workers, init_weights=args.init_from)  # fmt: skip
    return 0


def _training_data(hand_model, seed: int, crop_noise_scale: float):
    """The synthetic batch source a run with this seed and crop noise trains on."""
    from umetrack.train.synthetic_data import SyntheticBatchSource, SyntheticDataConfig, with_crop_noise_scale

    return SyntheticBatchSource(hand_model, seed=seed, config=with_crop_noise_scale(SyntheticDataConfig(), crop_noise_scale))


def _encode_crops(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from umetrack.hand.io import load_hand_model
    from umetrack.train.feature_cache import FeatureCacheInfo, cached_steps, encode_batches, image_encoder_digest
    from umetrack.train.loop import TrainConfig, load_trained_network, steps_per_block

    torch.set_num_threads(args.threads)
    net, config = load_trained_network(args.model)
    model = load_hand_model(args.hand_model) if args.hand_model else load_hand_model(DEFAULT_HAND_MODEL)
    source = _training_data(model, args.seed, args.crop_noise)
    info = FeatureCacheInfo(
        encoder=(config or TrainConfig()).encoder,
        encoder_digest=image_encoder_digest(net),
        data_seed=args.seed,
        crop_noise_scale=args.crop_noise,
        sequences_per_batch=args.batch,
        sequence_length=args.length,
        steps=tuple(cached_steps(args.first_step, args.batches, args.per_block, steps_per_block(source))),
    )
    with tqdm(total=args.batches, unit="batch", desc="encoding crops") as bar:
        def progress(done: int, total: int) -> None:
            bar.n = done
            bar.refresh()

        written = encode_batches(net, source, info, args.out, workers=args.workers, progress=progress)
    print(f"{args.out}: {args.batches} batches of {args.batch} x {args.length} frames ({written} encoded now), "
          f"image encoder {info.encoder} {info.encoder_digest}; train with --features {args.out} --init-from {args.model} "
          f"--freeze-image-encoder --batch {args.batch} --length {args.length}")  # fmt: skip
    return 0


def _recalibrate_bn(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from umetrack.hand.io import load_hand_model
    from umetrack.model.checkpoint import read_checkpoint
    from umetrack.train.loop import (TrainConfig, autocast_dtype_for, export_weights, frozen_modules, load_trained_network,
                                     recalibrate_batch_norm, spread_steps, steps_per_block)  # fmt: skip

    net, config = load_trained_network(args.model)
    config = config or TrainConfig()
    model = load_hand_model(args.hand_model) if args.hand_model else load_hand_model(DEFAULT_HAND_MODEL)
    source = _training_data(model, args.seed, config.crop_noise_scale)
    steps = spread_steps(0, args.batches, steps_per_block(source))
    with tqdm(total=args.batches, unit="batch", desc="BatchNorm statistics") as bar:
        def batches():
            for step in steps:
                yield source.batch(step, 0, config.sequences_per_batch, config.sequence_length)
                bar.update(1)

        # Weights trained with a frozen image encoder keep its statistics, as their own schedule's end did.
        used = recalibrate_batch_norm(net, model.to(torch.float32), batches(), autocast_dtype_for(config.precision, torch.device("cpu")),
                                      keep=frozen_modules(net, config))  # fmt: skip
    if used == 0:
        print(f"{args.model}: every BatchNorm layer was frozen in its training run (train_only_temporal_module); nothing to recalibrate",
              file=sys.stderr)  # fmt: skip
        return 2
    step = read_checkpoint(args.model).get("step")
    export_weights(net, config, args.out, step)
    print(f"wrote {args.out} (BatchNorm statistics averaged over {used} batches, data seed {args.seed})")
    return 0


def _train_detector(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from umetrack.detect.train import WEIGHTS_NAME, DetectorTrainConfig, train_detector
    from umetrack.hand.io import load_hand_model

    torch.set_num_threads(args.threads)
    config = DetectorTrainConfig(steps=args.steps, batch=args.batch, learning_rate=args.lr, seed=args.seed,
                                 sequences=args.sequences, frames_per_sequence=args.frames_per_sequence)  # fmt: skip
    model = load_hand_model(args.hand_model) if args.hand_model else load_hand_model(DEFAULT_HAND_MODEL)
    with tqdm(total=config.sequences, unit="sequence", desc="rendering views") as rendering, \
            tqdm(total=config.steps, unit="step", desc="training") as bar:  # fmt: skip
        def rendered(done: int, total: int) -> None:
            rendering.n = done
            rendering.refresh()

        def progress(step: int, metrics: dict[str, float]) -> None:
            bar.n = step
            bar.set_postfix(loss=f"{metrics['loss']:.3f}", heatmap=f"{metrics['heatmap']:.2f}", presence=f"{metrics['presence']:.3f}")
            bar.refresh()

        train_detector(config, model, args.out, progress=progress, dataset_progress=rendered, stop_after=args.stop_after)
    print(f"wrote {Path(args.out) / WEIGHTS_NAME}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    """Evaluate recordings; under torchrun each process takes every WORLD_SIZE-th recording and
    rank 0 pools the per-recording results (the totals equal a single-process run's)."""
    import csv
    from dataclasses import replace

    import torch.distributed as dist

    from umetrack.eval.runner import evaluate_recording, overall
    from umetrack.fileio import atomic_write_json, atomic_write_text
    from umetrack.hand.io import load_hand_model
    from umetrack.recording import open_recording
    from umetrack.track.tracker import TrackerOptions
    from umetrack.train.loop import load_trained_network

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    rank = dist.get_rank() if world_size > 1 else 0
    net, _config = load_trained_network(args.model)
    generic = load_hand_model(args.hand_model) if args.hand_model else load_hand_model(DEFAULT_HAND_MODEL)
    overrides = {"redetect_every": args.redetect_every, "redetect_below_confidence": args.redetect_confidence,
                 "redetect_distance_m": args.redetect_distance, "refine_new_tracks": args.refine_new_tracks,
                 "min_start_confidence": args.min_start_confidence}  # fmt: skip
    tracking = replace(TrackerOptions(), **{name: value for name, value in overrides.items() if value is not None})
    mine = []
    for index in range(rank, len(args.recordings), world_size):
        with open_recording(args.recordings[index]) as recording:
            result = evaluate_recording(net, recording, generic, args.skeleton, args.crops, baselines=args.baselines, precision=args.precision,
                                        bootstrap=args.bootstrap, tracking=tracking)  # fmt: skip
        mine.append((index, result))
    if world_size > 1:
        gathered: list = [None] * world_size
        dist.all_gather_object(gathered, mine)
        dist.destroy_process_group()
        if rank != 0:
            return 0
        mine = [item for part in gathered for item in part]
    results = [result for _index, result in sorted(mine, key=lambda item: item[0])]
    for result in results:
        scale = f"  scale error {100 * result.scale_error:.1f}%" if result.scale_error is not None else ""
        restarts = f"  restarts {result.track_restarts}  ended {result.ended_tracks}" if args.crops == "tracked" else ""
        print(f"{result.name:24s} MPJPE {result.mpjpe_mm:7.2f} mm  AUC {result.pck_auc:5.1f}  MPJPA {result.mpjpa:6.2f} "
              f"(GT {result.gt_mpjpa:5.2f})  tracked {result.tracked_slots}/{result.valid_slots}  losses {result.track_losses}"
              f"{restarts}{scale}")  # fmt: skip
        if result.one_euro_mpjpe_mm is not None:
            print(f"{'  without temporal':24s} MPJPE {result.no_temporal_mpjpe_mm:7.2f} mm  MPJPA {result.no_temporal_mpjpa:6.2f}")
            print(f"{'  + one-euro (equal MPJPA)':24s} MPJPE {result.one_euro_mpjpe_mm:7.2f} mm  MPJPA {result.one_euro_mpjpa:6.2f}")
    total = overall(results)
    print(f"{'overall':24s} MPJPE {total['mpjpe_mm']:7.2f} mm  AUC {total['pck_auc']:5.1f}  MPJPA {total['mpjpa']:6.2f}  "
          f"pinch P/R {100 * total['pinch_precision']:.1f}/{100 * total['pinch_recall']:.1f} %")  # fmt: skip
    if "no_temporal_mpjpe_mm" in total:
        print(f"{'  without temporal':24s} MPJPE {total['no_temporal_mpjpe_mm']:7.2f} mm  MPJPA {total['no_temporal_mpjpa']:6.2f}")
        print(f"{'  + one-euro (equal MPJPA)':24s} MPJPE {total['one_euro_mpjpe_mm']:7.2f} mm  MPJPA {total['one_euro_mpjpa']:6.2f}")
    if total["calibrated_hands"]:
        print(f"{'  calibration':24s} {100 * total['scale_within_3pct']:.0f} % of {total['calibrated_hands']} within 3 % of the true scale, "
              f"median error {100 * total['median_scale_error']:.2f} %")  # fmt: skip
    if args.out:
        out = Path(args.out)
        options = {"skeleton": args.skeleton, "crops": args.crops, "model": str(args.model), "precision": args.precision}
        if args.crops == "tracked":  # only tracked crops start hands with a bootstrap
            options["bootstrap"] = args.bootstrap
            options.update({name: getattr(tracking, name) for name in overrides})
        atomic_write_json(out / "eval.json", {"options": options, "overall": total, "recordings": [r.summary() for r in results]})
        rows = [{k: v for k, v in r.summary().items() if k != "per_joint_mm"} for r in results]
        with io.StringIO(newline="") as buffer:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
            atomic_write_text(out / "eval.csv", buffer.getvalue())
        print(f"wrote {out / 'eval.json'} and {out / 'eval.csv'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="umetrack", description="UmeTrack hand tracking: library tools")
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("hand-model", help="validate a hand model JSON and summarise it")
    info.add_argument("path", type=Path, help="UmeTrack model JSON, HOT3D profile, raw-data label or challenge shapes file")
    info.set_defaults(run=_hand_model_info)

    synth = commands.add_parser("synth", help="render a synthetic multi-view recording with exact ground truth")
    synth.add_argument("--out", required=True, help="output folder (written in the UmeTrack raw layout)")
    synth.add_argument("--frames", type=int, default=300, help="number of frames at 30 fps (default 300)")
    synth.add_argument("--seed", type=int, default=0, help="everything (motion, scene, noise) derives from it")
    synth.add_argument("--views", type=int, default=4, help="headset cameras, 1..4 (default 4)")
    synth.add_argument("--name", default="recording_00", help="file stem (default recording_00)")
    synth.add_argument("--crf", type=int, default=10, help="x264 quality, lower is better (default 10)")
    synth.add_argument("--hand-model", help="base hand model JSON (default: the bundled one)")
    synth.set_defaults(run=_synth)

    train = commands.add_parser(
        "train",
        help="train the network on rendered synthetic data (resumes from OUT/checkpoint.pt; "
        "torchrun --nproc-per-node N -m umetrack.cli train ... for data parallelism)",
    )
    train.add_argument("--out", required=True, help="run folder: checkpoint.pt, log.csv, config.json, weights.pt")
    train.add_argument("--steps", type=int, default=20_000)
    train.add_argument("--batch", type=int, default=16, help="hand sequences per step and process")
    train.add_argument("--length", type=int, default=4, help="frames per sequence (temporal unroll)")
    train.add_argument("--lr", type=float, default=2e-4)
    train.add_argument("--encoder", choices=("released", "light"), default="released")
    train.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                       help="autocast dtype (default auto: bf16 on CUDA and on CPUs with native bf16, fp32 on AVX2-only CPUs, where bf16 is ~5x slower)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--checkpoint-every", type=int, default=200)
    train.add_argument("--stop-after", type=int, help="end this call after N steps (resume later)")
    train.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    train.add_argument("--workers", type=int, default=min(8, max(1, (os.cpu_count() or 2) // 2)),
                       help="processes rendering batches ahead of the optimiser (0: render inline)")  # fmt: skip
    train.add_argument("--crop-noise", type=float, default=1.0,
                       help="scale of the crop-placement perturbations (1: 8 mm / 0.08 rad; larger trains recovery from tracking errors)")  # fmt: skip
    train.add_argument("--pinch-weight", type=float, help="weight of the pinch loss (default: the paper's 0.4)")
    train.add_argument("--init-from", help="start a new run from these weights (weights.pt of an earlier run, same encoder)")
    train.add_argument("--freeze-image-encoder", action="store_true",
                       help="keep --init-from's image encoder fixed (eval mode, no gradients) and train the rest: "
                       "no backward pass through the encoder, for longer temporal unrolls on a CPU")  # fmt: skip
    train.add_argument("--train-only-temporal-module", action="store_true",
                       help="keep every layer of --init-from fixed but the recurrent temporal module (implies --freeze-image-encoder): "
                       "teaches the memory long unrolls without moving the per-frame layers or their BatchNorm statistics")  # fmt: skip
    train.add_argument("--bn-batches", type=int, default=50,
                       help="batches whose average BatchNorm statistics replace the running ones when the schedule ends (0: keep)")  # fmt: skip
    train.add_argument("--features", help="train from a feature cache of `umetrack encode-crops` instead of rendering "
                       "(needs --freeze-image-encoder and --init-from the weights it was encoded with; --seed shuffles its batches)")  # fmt: skip
    train.add_argument("--hand-model", help="base hand model JSON (default: the bundled one)")
    train.set_defaults(run=_train)

    encode = commands.add_parser(
        "encode-crops",
        help="render training batches and cache their crops' image-encoder features, for `umetrack train --features` "
        "(trains everything after a frozen encoder ~25x faster per pass on a CPU); resumes an interrupted cache",
    )
    encode.add_argument("--model", required=True, help="weights whose image encoder makes the features (the run's --init-from)")
    encode.add_argument("--out", required=True, help="cache folder: cache.json and one shard per batch")
    encode.add_argument("--batches", type=int, default=200)
    encode.add_argument("--batch", type=int, default=16, help="hand sequences per batch")
    encode.add_argument("--length", type=int, default=16, help="frames per sequence")
    encode.add_argument("--seed", type=int, default=0, help="data seed (not one used for evaluation)")
    encode.add_argument("--first-step", type=int, default=0, help="first source step (another cache of the same seed starts after this one's)")
    encode.add_argument("--per-block", type=int, default=10,
                        help="batches taken from each block of 40 source steps (a block shares 4 sequences and one scene)")  # fmt: skip
    encode.add_argument("--crop-noise", type=float, default=1.0, help="as for `umetrack train`")
    encode.add_argument("--workers", type=int, default=1, help="processes rendering batches ahead of the encoder")
    encode.add_argument("--threads", type=int, default=1, help="torch threads for the encoder")
    encode.add_argument("--hand-model", help="base hand model JSON (default: the bundled one)")
    encode.set_defaults(run=_encode_crops)

    recalibrate = commands.add_parser(
        "recalibrate-bn",
        help="replace a model's BatchNorm running statistics by their average over rendered batches (no weight changes)",
    )
    recalibrate.add_argument("--model", required=True, help="weights.pt of `umetrack train`")
    recalibrate.add_argument("--out", required=True, help="where to write the recalibrated weights")
    recalibrate.add_argument("--batches", type=int, default=100, help="batches of the model's training shape (default 100)")
    recalibrate.add_argument("--seed", type=int, default=4242, help="data seed (use one not used in training or evaluation)")
    recalibrate.add_argument("--hand-model", help="base hand model JSON (default: the bundled one)")
    recalibrate.set_defaults(run=_recalibrate_bn)

    detector = commands.add_parser(
        "train-detector",
        help="train the hand detector (bootstrap of tracked crops) on rendered synthetic views; resumes OUT/checkpoint.pt",
    )
    detector.add_argument("--out", required=True, help="run folder: dataset.npz, checkpoint.pt, log.csv, weights.pt")
    detector.add_argument("--steps", type=int, default=3000)
    detector.add_argument("--batch", type=int, default=32, help="views per step")
    detector.add_argument("--lr", type=float, default=2e-3)
    detector.add_argument("--seed", type=int, default=0)
    detector.add_argument("--sequences", type=int, default=64, help="synthetic sequences rendered for the dataset")
    detector.add_argument("--frames-per-sequence", type=int, default=20, help="frames (x4 views) rendered per sequence")
    detector.add_argument("--stop-after", type=int, help="end this call after N steps (resume later)")
    detector.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core machine)")
    detector.add_argument("--hand-model", help="base hand model JSON (default: the bundled one)")
    detector.set_defaults(run=_train_detector)

    evaluate = commands.add_parser(
        "eval",
        help="evaluate a model on recordings with ground truth (MPJPE, PCK, MPJPA, pinch, scale); "
        "torchrun --nproc-per-node N -m umetrack.cli eval ... shards the recordings over N processes",
    )
    evaluate.add_argument("recordings", nargs="+", help="recordings (any supported format) with ground truth")
    evaluate.add_argument("--model", required=True, help="weights.pt of `umetrack train`, or a released-layout state_dict")
    evaluate.add_argument("--skeleton", choices=("known", "unknown"), default="known")
    evaluate.add_argument("--crops", choices=("oracle", "tracked"), default="oracle",
                          help="oracle: crops from GT (released protocol); tracked: from the previous prediction")  # fmt: skip
    evaluate.add_argument("--bootstrap", choices=("auto", "detector", "gt"), default="auto",
                          help="how tracked crops start a hand: the learned detector, GT, or auto (the detector when "
                          "resources/weights/hand_detector.pt exists, else GT)")  # fmt: skip
    evaluate.add_argument("--redetect-every", type=int,
                          help="tracked crops: check tracks against the detector every N frames (0: never; default: the tracker's, 40)")  # fmt: skip
    evaluate.add_argument("--redetect-confidence", type=float,
                          help="tracked crops: check on the next frame after a prediction less confident than this (default: the tracker's, 0.2)")  # fmt: skip
    evaluate.add_argument("--redetect-distance", type=float,
                          help="tracked crops: restart a track this far (metres) from its two-view detection (default: the tracker's, 0.15)")  # fmt: skip
    evaluate.add_argument("--min-start-confidence", type=float,
                          help="tracked crops: start a track only if its first prediction is at least this confident (default: the tracker's, 0.2)")  # fmt: skip
    evaluate.add_argument("--refine-new-tracks", type=int,
                          help="tracked crops: on a track's first frame, crop again from the network's own prediction N times "
                          "(default: the tracker's, 0)")  # fmt: skip
    evaluate.add_argument("--baselines", action="store_true",
                          help="also run without temporal memory, and a one-euro filter on that tuned to equal MPJPA")  # fmt: skip
    evaluate.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                          help="bf16: the tracker's fast path (autocast + channels_last); compare with fp32")  # fmt: skip
    evaluate.add_argument("--out", help="folder for eval.json and eval.csv")
    evaluate.add_argument("--hand-model", help="generic hand model for the unknown skeleton (default: the bundled one)")
    evaluate.set_defaults(run=_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UmeTrackError as exc:
        print(f"umetrack {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
