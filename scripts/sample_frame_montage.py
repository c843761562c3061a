"""Save the views of one frame of a recording as a 2x2 montage PNG (used for the README picture).

Usage: python scripts/sample_frame_montage.py [RECORDING] [--frame N] [--out PNG]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from umetrack.recording import open_recording

REPO = Path(__file__).resolve().parents[1]


def montage(images: list[np.ndarray], labels: list[str]) -> np.ndarray:
    tiles = []
    for image, label in zip(images, labels):
        tile = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        cv2.putText(tile, label, (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (80, 220, 255), 2, cv2.LINE_AA)
        tiles.append(tile)
    while len(tiles) % 2:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i : i + 2]) for i in range(0, len(tiles), 2)]
    return np.vstack(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("recording", nargs="?", default=str(REPO / "resources" / "sample" / "recording_00.mp4"))
    parser.add_argument("--frame", type=int, default=120)
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots" / "sample_frame.png"))
    parser.add_argument("--scale", type=float, default=0.5, help="resize factor of the montage (default 0.5)")
    args = parser.parse_args()
    with open_recording(args.recording) as recording:
        picture = montage(recording.filled_images(args.frame), list(recording.view_labels))
    if args.scale != 1.0:
        picture = cv2.resize(picture, None, fx=args.scale, fy=args.scale, interpolation=cv2.INTER_AREA)
    cv2.imwrite(args.out, picture)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
