"""`umetrack eval` sharded over 2 torchrun processes gives the same totals as one process."""

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from umetrack.recording import write_umetrack_raw
from umetrack.resources import LIGHT_TRACKER_WEIGHTS
from umetrack.synth.recording import synthetic_recording
from umetrack.train.loop import TrainConfig, export_weights, make_network

SHIPPED = LIGHT_TRACKER_WEIGHTS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.fixture(scope="module")
def inputs(hand_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("sharded")
    videos = []
    for seed in (21, 22, 23):
        recording = synthetic_recording(hand_model, 8, seed=seed, num_views=2, name=f"recording_{seed}")
        video, _ = write_umetrack_raw(recording, root / f"rec{seed}" / f"recording_{seed}", crf=18)
        videos.append(str(video))
    weights = SHIPPED
    if not weights.exists():  # untrained weights exercise the same bookkeeping
        torch.manual_seed(0)
        weights = root / "weights.pt"
        export_weights(make_network("light"), TrainConfig(encoder="light"), weights)
    return root, videos, weights


def _run(command: list[str], out: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # same kernels in both runs
    result = subprocess.run(command + ["--out", str(out)], capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / "eval.json").read_text())


def test_two_processes_give_the_single_process_totals(inputs):
    root, videos, weights = inputs
    args = ["eval", *videos, "--model", str(weights), "--crops", "tracked"]
    single = _run([sys.executable, "-m", "umetrack.cli", *args], root / "single")
    sharded = _run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
                    "--master-port", str(_free_port()), "-m", "umetrack.cli", *args], root / "sharded")  # fmt: skip
    assert [r["name"] for r in sharded["recordings"]] == ["recording_21", "recording_22", "recording_23"]
    assert sum(r["valid_slots"] for r in single["recordings"]) > 0
    assert single["overall"]["tracked_slots"] == sum(r["tracked_slots"] for r in single["recordings"])
    for key, value in single["overall"].items():
        assert _same(value, sharded["overall"][key]), key
    for mine, theirs in zip(single["recordings"], sharded["recordings"]):
        for key, value in mine.items():
            assert _same(value, theirs[key]), (mine["name"], key)
