"""Geometry core throughput on this machine: FK + LBS (hands/s) and perspective-crop warps (ms/crop).

Run: python benchmarks/bench_geometry.py [--hand-model PATH]
Prints numbers and ratios; nothing is asserted (speed is measured here, not in tests).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from umetrack.camera import Camera, CameraModel
from umetrack.crop import crop_points, make_crop_camera, warp_image, warp_maps
from umetrack.geometry import axis_angle_to_matrix, make_transform
from umetrack.hand import fk
from umetrack.hand.io import load_hand_model

REPO = Path(__file__).resolve().parents[1]


def timeit(fn, min_seconds: float = 1.0, min_runs: int = 5) -> float:
    """Median seconds per call over repeated runs (after one warm-up call)."""
    fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_seconds or len(times) < min_runs:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench_fk(model, batch: int) -> dict[str, float]:
    generator = torch.Generator().manual_seed(0)
    angles = torch.rand(batch, 22, generator=generator) * 0.8
    wrist = make_transform(axis_angle_to_matrix(torch.randn(batch, 3, generator=generator)), torch.randn(batch, 3, generator=generator))
    with torch.no_grad():
        t_landmarks = timeit(lambda: fk.landmarks(model, angles, wrist, 0))
        t_mesh = timeit(lambda: fk.mesh_vertices(model, angles, wrist, 0))
    return {"landmarks_hands_per_s": batch / t_landmarks, "mesh_hands_per_s": batch / t_mesh}


def bench_crop(model) -> dict[str, float]:
    camera_model = CameraModel("fisheye62", 636, 480, 238.0, 238.0, 317.5, 239.5, (0.05, -0.03, 0.01, -0.002, 0.0, 0.0, 0.0, 0.0))
    camera = Camera(camera_model, torch.eye(4, dtype=torch.float64))
    model64 = model.to(torch.float64)
    wrist = make_transform(axis_angle_to_matrix(torch.tensor([0.4, 1.2, -0.3], dtype=torch.float64)), torch.tensor([0.05, 0.05, 0.35], dtype=torch.float64))
    points = crop_points(model64, model64.neutral_angles, wrist, 0)
    image = np.random.default_rng(0).integers(0, 255, (480, 636), dtype=np.uint8)
    crop = make_crop_camera(camera.T_world_from_camera, points, 0)
    map_x, map_y = warp_maps(crop, camera)
    import cv2

    return {
        "crop_camera_ms": 1e3 * timeit(lambda: make_crop_camera(camera.T_world_from_camera, points, 0)),
        "warp_maps_ms": 1e3 * timeit(lambda: warp_maps(crop, camera)),
        "remap_ms": 1e3 * timeit(lambda: cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR)),
        "full_crop_ms": 1e3 * timeit(lambda: warp_image(image, make_crop_camera(camera.T_world_from_camera, points, 0), camera)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hand-model", default=str(REPO / "resources" / "hand_model.json"))
    args = parser.parse_args()
    model = load_hand_model(args.hand_model)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, model with {model.num_vertices} vertices")
    one = bench_fk(model, 1)
    many = bench_fk(model, 1024)
    print(f"FK+LBS landmarks  batch 1: {one['landmarks_hands_per_s']:10.0f} hands/s   batch 1024: {many['landmarks_hands_per_s']:10.0f} hands/s   (x{many['landmarks_hands_per_s'] / one['landmarks_hands_per_s']:.0f})")
    print(f"FK+LBS mesh       batch 1: {one['mesh_hands_per_s']:10.0f} hands/s   batch 1024: {many['mesh_hands_per_s']:10.0f} hands/s   (x{many['mesh_hands_per_s'] / one['mesh_hands_per_s']:.0f})")
    crop = bench_crop(model)
    print(
        f"96x96 crop: camera {crop['crop_camera_ms']:.3f} ms, sampling maps {crop['warp_maps_ms']:.3f} ms, "
        f"cv2.remap {crop['remap_ms']:.3f} ms, end to end {crop['full_crop_ms']:.3f} ms per crop "
        f"({1e3 / crop['full_crop_ms']:.0f} crops/s)"
    )


if __name__ == "__main__":
    main()
