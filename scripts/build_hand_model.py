"""Build resources/hand_model.json, the project's own procedurally constructed left-hand model.

Usage: python scripts/build_hand_model.py [--out resources/hand_model.json]

Runs umetrack.hand.builder, writes the UmeTrack generic-model JSON layout (millimetres) through
umetrack.hand.io.save_hand_model, reads it back and prints the checks the tests also make.
Needs only the project's own dependencies (numpy, scipy, torch, trimesh).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import trimesh

from umetrack.hand import fk
from umetrack.hand.builder import build_hand_model, demo_poses
from umetrack.hand.io import load_hand_model, save_hand_model

REPO = Path(__file__).resolve().parents[1]


def _volume(vertices: torch.Tensor, triangles: np.ndarray) -> float:
    return float(trimesh.Trimesh(vertices.double().numpy(), triangles, process=False).volume)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "resources" / "hand_model.json")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    model = build_hand_model()
    print(f"built in {time.perf_counter() - start:.1f} s")
    save_hand_model(args.out, model)
    model = load_hand_model(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")

    triangles = model.mesh_triangles.numpy()
    mesh = trimesh.Trimesh(model.mesh_vertices.double().numpy(), triangles, process=False)
    weights = model.dense_bone_weights.numpy()
    middle_tip = float(model.landmark_rest_positions[2].norm())
    print(f"vertices {model.num_vertices}, triangles {len(triangles)}")
    print(f"watertight {mesh.is_watertight}, winding consistent {mesh.is_winding_consistent}, volume {mesh.volume * 1e6:.0f} cm^3")
    print(f"weights: rows sum to 1 within {np.abs(weights.sum(1) - 1).max():.1e}, max non-zeros per vertex {(weights > 0).sum(1).max()}")
    print(f"wrist to middle fingertip {middle_tip * 1000:.1f} mm")
    rest = _volume(model.mesh_vertices, triangles)
    for name, angles in demo_poses().items():
        posed = fk.mesh_vertices(model, angles, torch.eye(4))
        print(f"{name}: posed volume / rest volume {_volume(posed, triangles) / rest:.3f}")
    ok = mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
