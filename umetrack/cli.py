"""The ``umetrack`` command line. Subcommands grow with the project (synth, train, eval, track ...)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from umetrack.errors import UmeTrackError


def _hand_model_info(args: argparse.Namespace) -> int:
    from umetrack.hand.io import load_hand_model

    model = load_hand_model(args.path)
    landmarks = model.landmark_rest_positions
    length_mm = 1000.0 * float((landmarks[2] - landmarks[5]).norm())
    print(f"{args.path}: valid UmeTrack hand model (left hand)")
    print(f"  mesh: {model.num_vertices} vertices, {len(model.mesh_triangles)} triangles")
    print(f"  wrist to middle fingertip: {length_mm:.1f} mm; hand_scale field {model.hand_scale:g}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="umetrack", description="UmeTrack hand tracking: library tools")
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("hand-model", help="validate a hand model JSON and summarise it")
    info.add_argument("path", type=Path, help="UmeTrack model JSON, HOT3D profile, raw-data label or challenge shapes file")
    info.set_defaults(run=_hand_model_info)
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
