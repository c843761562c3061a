"""The failure finder on the bundled sample's ground truth with injected, known failures."""

import numpy as np
import pytest

from umetrack.eval.failures import FailureKind, FailureThresholds, find_failures
from umetrack.eval.ground_truth import gt_landmarks
from umetrack.hand.model import LANDMARK_NAMES
from umetrack.recording import open_recording
from umetrack.track.results import REASONS
from umetrack.track.tracker import Reason

SAMPLE = "resources/sample/recording_00.mp4"
LEFT, RIGHT = 0, 1


@pytest.fixture(scope="module")
def sample_truth(request):
    root = request.config.rootpath
    with open_recording(root / SAMPLE) as recording:
        return gt_landmarks(recording)


def _injected(truth: np.ndarray):
    """Predictions = GT + 1 mm noise, with: the whole left hand 40 mm off on frame 40 (an MPJPE
    spike), hands swapped on frames 100-109, the right hand 6 mm off on frame 150 alone (a jitter
    spike of 12 mm/frame², too small an error for an MPJPE spike), the right hand lost (lost track)
    on frames 200-219 and the left hand seen in too few views on frames 250-254."""
    rng = np.random.default_rng(0)
    predicted = truth + rng.normal(scale=0.001 / np.sqrt(3), size=truth.shape)
    predicted[40, LEFT] += (0.04, 0.0, 0.0)
    predicted[100:110] = truth[100:110, ::-1]
    predicted[150, RIGHT] += (0.0, 0.006, 0.0)
    reasons = np.full(truth.shape[:2], REASONS.index(Reason.TRACKED), np.int8)
    predicted[200:220, RIGHT] = np.nan
    reasons[200:220, RIGHT] = REASONS.index(Reason.LOST_TRACK)
    predicted[250:255, LEFT] = np.nan
    reasons[250:255, LEFT] = REASONS.index(Reason.TOO_FEW_VIEWS)
    return predicted, reasons


def test_injected_failures_are_found_and_ranked(sample_truth):
    predicted, reasons = _injected(sample_truth)
    failures = find_failures(predicted, reasons, sample_truth)
    summary = [(f.kind, f.hand, f.start, f.end, f.peak_frame) for f in failures]
    # Swaps are worst: each prediction is ~30 cm off its own hand (score = mean error / 10 mm).
    assert {row[:4] for row in summary[:2]} == {(FailureKind.SWAP, LEFT, 100, 110), (FailureKind.SWAP, RIGHT, 100, 110)}
    assert summary[2:] == [
        (FailureKind.ERROR_SPIKE, LEFT, 40, 41, 40),
        (FailureKind.TRACK_LOSS, RIGHT, 200, 220, 200),
        (FailureKind.JITTER_SPIKE, RIGHT, 150, 151, 150),
        (FailureKind.TRACK_LOSS, LEFT, 250, 255, 250),
    ]
    by_kind = {(f.kind, f.hand): f for f in failures}
    spike = by_kind[(FailureKind.ERROR_SPIKE, LEFT)]
    assert spike.score == pytest.approx(3.9, abs=0.05)  # 40 mm error, ~1 mm above the median, threshold 10 mm
    assert spike.description.startswith("MPJPE 39.9 mm (typical 0.9 mm); worst joint ")
    assert spike.description.endswith(f"{LANDMARK_NAMES[spike.joint]} {np.linalg.norm(predicted[40, LEFT] - sample_truth[40, LEFT], axis=-1).max() * 1000:.1f} mm")
    swap = by_kind[(FailureKind.SWAP, LEFT)]
    assert swap.score > 20 and "left prediction on the right hand for 10 frames" in swap.description
    loss = by_kind[(FailureKind.TRACK_LOSS, RIGHT)]
    assert loss.reason is Reason.LOST_TRACK and loss.score == pytest.approx(20 / 15)
    assert loss.description == "lost track for 20 frames"
    assert by_kind[(FailureKind.TRACK_LOSS, LEFT)].reason is Reason.TOO_FEW_VIEWS
    jitter = by_kind[(FailureKind.JITTER_SPIKE, RIGHT)]
    # 2 x 6 mm = 12 mm/frame² against ~2 mm/frame² of noise: 10 over the median, threshold 10.
    assert jitter.score == pytest.approx(1.0, abs=0.1)
    # The swap's and the spike's own edges are not reported again as jitter.
    assert [f for f in failures if f.kind is FailureKind.JITTER_SPIKE] == [jitter]


def test_perfect_predictions_have_no_failures(sample_truth):
    reasons = np.zeros(sample_truth.shape[:2], np.int8)
    assert find_failures(sample_truth, reasons, sample_truth) == []


def test_a_noisy_model_is_judged_against_its_own_spread(sample_truth):
    """20 mm of per-frame noise is this model's normal: only the 150 mm outlier stands out."""
    rng = np.random.default_rng(1)
    predicted = sample_truth + rng.normal(scale=0.02, size=(300, 2, 1, 3))  # whole-hand offsets
    predicted[70, RIGHT] += (0.15, 0.0, 0.0)
    failures = find_failures(predicted, np.zeros((300, 2), np.int8), sample_truth)
    assert [(f.kind, f.hand, f.peak_frame) for f in failures if f.kind is FailureKind.ERROR_SPIKE] == [(FailureKind.ERROR_SPIKE, RIGHT, 70)]
    assert len(failures) < 10


def test_without_ground_truth_only_jitter_and_losses(sample_truth):
    predicted, reasons = _injected(sample_truth)
    reasons[0:30, LEFT] = REASONS.index(Reason.NOT_DETECTED)  # no GT: "not detected" means absent
    predicted[0:30, LEFT] = np.nan
    failures = find_failures(predicted, reasons)
    kinds = {f.kind for f in failures}
    assert kinds <= {FailureKind.JITTER_SPIKE, FailureKind.TRACK_LOSS}
    assert not [f for f in failures if f.kind is FailureKind.TRACK_LOSS and f.start == 0]
    assert any(f.kind is FailureKind.JITTER_SPIKE and f.start <= 40 < f.end for f in failures)  # the 40 mm jump


def test_limit_and_thresholds(sample_truth):
    predicted, reasons = _injected(sample_truth)
    assert len(find_failures(predicted, reasons, sample_truth, limit=2)) == 2
    strict = find_failures(predicted, reasons, sample_truth, FailureThresholds(error_excess_mm=50.0))
    assert not [f for f in strict if f.kind is FailureKind.ERROR_SPIKE]


def test_bad_shapes_raise():
    with pytest.raises(ValueError):
        find_failures(np.zeros((5, 2, 21, 3)), np.zeros((4, 2)))
