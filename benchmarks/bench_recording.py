"""Recording video I/O on this machine: encode rate, sequential decode rate, random-seek latency.

Generates a 4-view 640x480 recording (~300 frames, camera-like content: smooth moving structure
plus sensor noise), writes it as UmeTrack raw data with the default settings, then reads it back:
* sequential decode: frames/s reading 0..N-1 in order (cache off, so every frame is decoded);
* random seek: latency of reading a uniformly random frame (cache off), median and p95 in ms;
* scrub backwards: latency of stepping back one frame at a time with the default cache;
* pixel error: mean absolute difference to the generated images (every 10th frame).

Timings on a shared machine vary with its load; compare runs made back to back.

Run: python benchmarks/bench_recording.py [--frames 300] [--views 4] [--crf 10] [--keep DIR]
Prints numbers; nothing is asserted (speed is measured here, not in tests).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from umetrack.camera import CameraModel
from umetrack.recording import FrameSource, Recording, read_umetrack_raw, write_umetrack_raw
from umetrack.recording.frames import Views, freeze


class ProceduralFrames(FrameSource):
    """Deterministic camera-like frames made on demand (the benchmark never holds them all)."""

    def __init__(self, num_frames: int, num_views: int, width: int, height: int):
        super().__init__(num_frames, [(width, height)] * num_views, cache_frames=0)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        self._grid = (xx, yy)

    def _decode(self, index: int) -> Views:
        xx, yy = self._grid
        views = []
        for v in range(self.num_views):
            rng = np.random.default_rng(index * 131 + v)
            image = 90 + 60 * np.sin((xx + 5 * index + 37 * v) / 23.0) * np.cos((yy - 3 * index) / 31.0)
            cx, cy = 320 + 200 * np.sin(0.05 * index + v), 240 + 120 * np.cos(0.07 * index)
            image += 100 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 45.0**2))  # a bright "hand"
            image += rng.normal(0.0, 2.0, image.shape)  # sensor noise
            views.append(freeze(np.clip(image, 0, 255).astype(np.uint8)))
        return tuple(views)


def make_recording(num_frames: int, num_views: int, width: int, height: int) -> Recording:
    model = CameraModel("fisheye62", width, height, 240.0, 240.0, (width - 1) / 2, (height - 1) / 2, (0.2, -0.02, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))
    T = np.tile(np.eye(4), (num_frames, num_views, 1, 1))
    return Recording(
        name="bench",
        timestamps_ns=np.arange(num_frames, dtype=np.int64) * 33_333_333,
        view_labels=tuple(str(v) for v in range(num_views)),
        camera_models=(model,) * num_views,
        T_world_from_camera=T,
        headset_tracked=np.ones(num_frames, dtype=bool),
        frames=ProceduralFrames(num_frames, num_views, width, height),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--crf", type=int, default=10)
    parser.add_argument("--seeks", type=int, default=100)
    parser.add_argument("--keep", type=Path, default=None, help="write the recording here instead of a temporary folder")
    args = parser.parse_args()

    source = make_recording(args.frames, args.views, args.width, args.height)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        video, _ = write_umetrack_raw(source, folder, crf=args.crf)
        encode_s = time.perf_counter() - t0
        size_mb = video.stat().st_size / 1e6
        print(f"recording: {args.frames} frames x {args.views} views of {args.width}x{args.height}, crf {args.crf}, keyframe every 15")
        print(f"encode (incl. generating frames): {args.frames / encode_s:.1f} frames/s, file {size_mb:.1f} MB ({8 * size_mb / (args.frames / 30):.1f} Mbit/s at 30 fps)")

        t0 = time.perf_counter()
        recording = read_umetrack_raw(video, cache_frames=0)
        print(f"open (index packets + decode frame 0): {1e3 * (time.perf_counter() - t0):.1f} ms")

        t0 = time.perf_counter()
        for i in range(recording.num_frames):
            recording.images(i)
        sequential_s = time.perf_counter() - t0
        print(f"sequential decode: {recording.num_frames / sequential_s:.1f} frames/s ({args.views} views each, cache off)")
        errors = [
            np.mean([np.abs(a.astype(np.int16) - b).mean() for a, b in zip(recording.images(i), source.images(i))])
            for i in range(0, recording.num_frames, 10)
        ]
        print(f"pixel error (every 10th frame): mean abs {np.mean(errors):.3f} gray levels (worst frame {np.max(errors):.3f})")

        rng = np.random.default_rng(0)
        latencies = []
        for frame in rng.integers(0, recording.num_frames, args.seeks):
            t0 = time.perf_counter()
            recording.images(int(frame))
            latencies.append(1e3 * (time.perf_counter() - t0))
        print(f"random seek (no cache): median {np.median(latencies):.1f} ms, p95 {np.percentile(latencies, 95):.1f} ms, max {np.max(latencies):.1f} ms")
        recording.close()

        recording = read_umetrack_raw(video)  # default cache
        start = recording.num_frames - 1
        recording.images(start)
        latencies = []
        for frame in range(start - 1, max(start - 61, -1), -1):
            t0 = time.perf_counter()
            recording.images(frame)
            latencies.append(1e3 * (time.perf_counter() - t0))
        print(f"scrub backwards one frame at a time (default cache): median {np.median(latencies):.2f} ms, p95 {np.percentile(latencies, 95):.1f} ms")
        recording.close()


if __name__ == "__main__":
    main()
