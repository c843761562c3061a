"""Synthetic renderer throughput on this machine: full 4-view fisheye frames/s and 96x96 crops/s.

Run: python benchmarks/bench_render.py [--hand-model PATH] [--batch 256] [--frames 300] [--seconds 3] [--torch-threads 1]
Prints numbers and their ratio to the crop target (1,000 crops/s); nothing is asserted. Each rate
is given for the median and the fastest call, plus the process CPU time per call (all threads,
llvmpipe's included): on a shared machine other processes slow calls down, while CPU time says
what the renderer itself costs.

Scene: a synthetic recording (``umetrack.synth.generate_sequence``: the project's four-camera
640x480 fisheye624 headset, both hands moving with their forearms). Full frames: the four views
of a frame. Crops: the left hand in the two front views wherever 19 of its landmarks are visible,
each crop drawing both hands of its frame, as training data would.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
import torch

from umetrack.crop import CropCamera, crop_points, make_crop_camera
from umetrack.hand.io import load_hand_model
from umetrack.synth import generate_sequence, sequence_visibility
from umetrack.synth.render import Hands, Scene, Sensor, render_crops, render_view

REPO = Path(__file__).resolve().parents[1]
TARGET_CROPS_PER_S = 1000.0
MIN_VISIBLE_LANDMARKS = 19  # as the tracker requires of a view (perspective_crop.md section 5)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timeit(fn, min_seconds: float) -> tuple[float, float, float]:
    """Median and fastest wall seconds and mean CPU seconds per call (after one warm-up call)."""
    fn()
    times = []
    start, cpu_start = time.perf_counter(), cpu_seconds()
    while time.perf_counter() - start < min_seconds or len(times) < 3:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), float(np.min(times)), (cpu_seconds() - cpu_start) / len(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hand-model", default=str(REPO / "resources" / "hand_model.json"))
    parser.add_argument("--batch", type=int, default=256, help="crops per render_crops call")
    parser.add_argument("--frames", type=int, default=300, help="length of the synthetic recording")
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum timing per measurement")
    parser.add_argument(
        "--torch-threads", type=int, default=1,
        help="torch intra-op threads; on 2 cores more threads spin against llvmpipe's rasteriser threads (FK 3x slower under load)",
    )  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)

    sequence = generate_sequence(load_hand_model(args.hand_model), args.frames, seed=7)
    model = sequence.hand_model.to(torch.float32)  # float32 skinning: half the time of float64
    angles = sequence.joint_angles.to(torch.float32)
    wrists = sequence.T_world_from_wrist.to(torch.float32)
    elbows = sequence.elbow_positions.to(torch.float32)
    hands = Hands.posed(model, angles, wrists, (0, 1), elbow_positions=elbows)
    scene = Scene.random(7)
    sensor = Sensor.sample(np.random.default_rng(7))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start (other processes slow the wall-clock rates)")
    print(
        f"hand model: {model.num_vertices} vertices, {len(model.mesh_triangles)} triangles "
        f"(with forearm {hands.vertices.shape[-2]}, {hands.faces.shape[1]}); torch {torch.get_num_threads()} threads"
    )

    # Full frames: the four views of a frame, both hands.
    counter = iter(range(10**9))

    def four_views() -> None:
        i = next(counter) % sequence.num_frames
        frame = Hands(hands.vertices[i], hands.faces, hands.hand_indices, hands.forearm_vertices)
        for view, camera in enumerate(sequence.cameras(i)):
            render_view(camera, frame, scene, sensor, seed=4 * i + view)

    for camera in sequence.cameras(0):  # per-model ray maps and shaders are built once, outside the timing
        render_view(camera, Hands(hands.vertices[0], hands.faces, hands.hand_indices, hands.forearm_vertices), scene, sensor, 0)
    median, best, cpu = timeit(four_views, args.seconds)
    print(
        f"full frames (4 views 640x480, 2 hands): median {1.0 / median:5.1f} frames/s, best {1.0 / best:5.1f} frames/s "
        f"({1e3 * best:.1f} ms/frame; CPU {1e3 * cpu:.1f} ms/frame)"
    )

    # Crops: the left hand in the front views, where the tracker would crop it.
    visible = sequence_visibility(sequence)[:, :2, 0] >= MIN_VISIBLE_LANDMARKS  # (N, 2 front views)
    frame_index, view_index = (torch.nonzero(visible).T.numpy()[:, np.arange(args.batch) % int(visible.sum())])
    T_source = sequence.T_world_from_camera[frame_index, view_index].to(torch.float32)
    source_models = [sequence.camera_models[v] for v in view_index]
    roll = sequence.camera_angles_deg[view_index].to(torch.float32)

    def crop_cameras(a: torch.Tensor, w: torch.Tensor) -> CropCamera:
        with torch.no_grad():
            return make_crop_camera(T_source, crop_points(model, a[frame_index, 0], w[frame_index, 0], 0), 0, roll)

    crops = crop_cameras(angles, wrists)
    only_left = Hands(hands.vertices[:, :1], hands.faces[:1], (0,), hands.forearm_vertices)
    print(f"crops: {len(frame_index)} of the left hand from {len(np.unique(frame_index))} frames")

    t_crops = timeit(lambda: render_crops(crops, source_models, T_source, hands, scene, sensor, 0, frames=frame_index), args.seconds)
    t_left = timeit(lambda: render_crops(crops, source_models, T_source, only_left, scene, sensor, 0, frames=frame_index), args.seconds)
    t_noise = timeit(lambda: render_crops(crops, source_models, T_source, hands, scene, Sensor(), 0, frames=frame_index), args.seconds)

    used, slot = np.unique(frame_index, return_inverse=True)

    def end_to_end() -> None:  # skin only the frames the batch crops
        posed = Hands.posed(model, angles[used], wrists[used], (0, 1), elbow_positions=elbows[used])
        render_crops(crop_cameras(angles, wrists), source_models, T_source, posed, scene, sensor, 0, frames=slot)

    t_end = timeit(end_to_end, args.seconds)
    batch = len(frame_index)
    for label, seconds in (
        ("crops, both hands per crop", t_crops),
        ("crops, cropped hand only", t_left),
        ("crops, both hands, no noise", t_noise),
        ("crops + skinning + crop cameras", t_end),
    ):
        median, best = batch / seconds[0], batch / seconds[1]
        print(
            f"{label:31s} batch {batch}: median {median:5.0f} crops/s ({median / TARGET_CROPS_PER_S:.2f} x target), "
            f"best {best:5.0f} crops/s ({best / TARGET_CROPS_PER_S:.2f} x target); CPU {1e3 * seconds[2] / batch:.2f} ms/crop"
        )


if __name__ == "__main__":
    main()
