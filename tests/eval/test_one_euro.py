import numpy as np
import pytest

from umetrack.eval.one_euro import one_euro, tune_to_mpjpa
from umetrack.metrics import mpjpa


def test_constant_signal_is_unchanged_and_noise_is_reduced():
    np.testing.assert_allclose(one_euro(np.full((50, 3), 0.2)), 0.2)
    rng = np.random.default_rng(0)
    noisy = 0.1 + 0.002 * rng.normal(size=(300, 3))
    filtered = one_euro(noisy, min_cutoff_hz=0.5)
    assert filtered[50:].std() < 0.3 * noisy[50:].std()


def test_step_is_followed_and_beta_reduces_lag():
    step = np.r_[np.zeros(30), np.ones(60)][:, None]
    slow = one_euro(step, min_cutoff_hz=0.5, beta=0.0)
    fast = one_euro(step, min_cutoff_hz=0.5, beta=5.0)
    assert slow[-1, 0] > 0.95 and fast[-1, 0] > 0.99
    assert fast[35, 0] > slow[35, 0] + 0.1


def test_invalid_frames_restart_the_filter():
    x = np.r_[np.zeros(10), np.ones(10)][:, None]
    valid = np.ones(20, bool)
    valid[10] = False
    out = one_euro(x, valid, min_cutoff_hz=0.1)
    assert np.isnan(out[10]).all()
    assert out[11, 0] == pytest.approx(1.0)  # a fresh start takes the new sample as is


def test_tuning_reaches_the_target_jitter():
    rng = np.random.default_rng(1)
    t = np.arange(120) / 30.0
    base = np.stack([np.sin(t), np.cos(t), t * 0.1], -1)[:, None, :].repeat(21, 1) * 0.1
    keypoints = (base + 0.003 * rng.normal(size=base.shape))[None]
    valid = np.ones((1, 120), bool)
    raw = mpjpa(keypoints, valid)
    cutoff = tune_to_mpjpa(keypoints, valid, raw / 3)
    filtered = one_euro(keypoints[0], valid[0], cutoff, 0.5)[None]
    assert mpjpa(np.nan_to_num(filtered), valid) == pytest.approx(raw / 3, rel=0.05)
