import numpy as np
import pytest
import torch

from umetrack.camera import Camera, CameraModel
from umetrack.geometry import axis_angle_to_matrix, make_transform
from umetrack.hand.pose import HandPose
from umetrack.model.network import UmeTrackNet
from umetrack.track.tracker import Reason, Tracker, TrackerOptions

MODEL = CameraModel("fisheye62", 320, 240, 120.0, 120.0, 159.5, 119.5, (0.05, -0.03, 0.01, -0.002, 0.0, 0.0, 0.0, 0.0))


def _cameras():
    """Two forward cameras 8 cm apart, slightly toed in."""
    out = []
    for x, yaw in ((-0.04, 0.1), (0.04, -0.1)):
        out.append(Camera(MODEL, make_transform(axis_angle_to_matrix(torch.tensor([0.0, yaw, 0.0], dtype=torch.float64)), torch.tensor([x, 0.0, 0.0], dtype=torch.float64))))
    return out


def _pose(hand_model, hand=0, position=(0.0, 0.03, 0.35)):
    R = axis_angle_to_matrix(torch.tensor([1.2, 0.3, 0.2], dtype=torch.float64))
    return HandPose(hand, hand_model.neutral_angles.double(), make_transform(R, torch.tensor(position, dtype=torch.float64)))


def _images(value=128):
    rng = np.random.default_rng(0)
    return [rng.integers(60, 200, (240, 320), dtype=np.uint8) for _ in range(2)]


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return UmeTrackNet().eval()


def test_oracle_crops_choose_views_by_index_and_keep_memory(net, hand_model):
    tracker = Tracker(net, hand_model, TrackerOptions(crops="oracle"))
    gt = {0: _pose(hand_model, 0), 1: _pose(hand_model, 1, (0.05, 0.05, 0.4))}
    result = tracker.step(_images(), _cameras(), gt)
    for hand in (0, 1):
        assert result.hands[hand].views == (0, 1)
        assert result.hands[hand].crop_images.shape == (2, 96, 96)
        assert result.hands[hand].crop_images.std() > 5  # real image content, not black
    assert set(result.timings_ms) >= {"crop_ms", "warp_ms", "network_ms", "fk_ms", "total_ms"}
    assert result.timings_ms["warp_ms"] <= result.timings_ms["crop_ms"] <= result.timings_ms["total_ms"]


def test_bf16_path_stays_close_to_fp32(hand_model):
    """The fast path changes the network's numerics only slightly, temporal memory included.
    (Untrained weights put predictions outside the crops, so compare the raw network outputs.)"""
    torch.manual_seed(0)
    fp32_net, bf16_net = UmeTrackNet().eval(), UmeTrackNet().eval()
    bf16_net.load_state_dict(fp32_net.state_dict())
    gt = {0: _pose(hand_model, 0), 1: _pose(hand_model, 1, (0.05, 0.05, 0.4))}
    trackers = [Tracker(n, hand_model, TrackerOptions(crops="oracle", precision=p)) for n, p in ((fp32_net, "fp32"), (bf16_net, "bf16"))]
    first = trackers[0].step(_images(), _cameras(), gt)
    batch = [(h, list(first.hands[h].views), list(first.hands[h].crops), first.hands[h].crop_images) for h in (0, 1)]
    for _ in range(2):  # the second call goes through the temporal memory
        exact, fast = (t._run_network(batch) for t in trackers)
    for (angles, wrist, sigma, _), (fast_angles, fast_wrist, fast_sigma, _) in zip(exact, fast):
        assert fast_angles.dtype == torch.float32 and fast_wrist.dtype == torch.float32
        assert (angles - fast_angles).abs().max() < 0.01  # rad
        assert (wrist[:3, 3] - fast_wrist[:3, 3]).abs().max() < 0.01  # m
        assert (sigma - fast_sigma).abs().max() < 0.005
    with pytest.raises(ValueError, match="precision"):
        Tracker(fp32_net, hand_model, TrackerOptions(precision="fp8"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_network_on_cuda_matches_the_cpu_and_leaves_the_given_network_alone(net, hand_model):
    gt = {0: _pose(hand_model, 0), 1: _pose(hand_model, 1, (0.05, 0.05, 0.4))}
    cpu = Tracker(net, hand_model, TrackerOptions(crops="oracle", fold_batchnorm=False))
    gpu = Tracker(net, hand_model, TrackerOptions(crops="oracle", fold_batchnorm=False, device="cuda"))
    for _ in range(2):  # the second frame goes through the temporal memory kept between devices
        expected, actual = cpu.step(_images(), _cameras(), gt), gpu.step(_images(), _cameras(), gt)
    for hand in (0, 1):
        torch.testing.assert_close(actual.hands[hand].pose.T_world_from_wrist, expected.hands[hand].pose.T_world_from_wrist, atol=1e-3, rtol=0)
    assert next(net.parameters()).device.type == "cpu"


def test_missing_black_and_invalid_views_degrade_to_reasons(net, hand_model):
    tracker = Tracker(net, hand_model, TrackerOptions(crops="oracle"))
    gt = {0: _pose(hand_model)}
    images = _images()
    one = tracker.step([None, images[1]], _cameras(), gt)
    assert one.hands[0].views == (1,)
    black = tracker.step([np.zeros((240, 320), np.uint8), images[1]], _cameras(), gt)
    assert black.hands[0].views == (1,)
    none = tracker.step([None, None], _cameras(), gt)
    assert none.hands[0].reason is Reason.TOO_FEW_VIEWS
    untracked = tracker.step(images, None, gt)
    assert untracked.hands[0].reason is Reason.INVALID_CAMERA
    assert untracked.hands[1].reason is Reason.NOT_DETECTED


def test_hand_outside_every_view_is_reported(net, hand_model):
    tracker = Tracker(net, hand_model, TrackerOptions(crops="oracle"))
    behind = {0: _pose(hand_model, 0, (0.0, 0.0, -0.4))}
    assert tracker.step(_images(), _cameras(), behind).hands[0].reason is Reason.TOO_FEW_VIEWS


def test_tracked_mode_needs_a_detection_to_start(net, hand_model):
    tracker = Tracker(net, hand_model)
    result = tracker.step(_images(), _cameras())
    assert {h.reason for h in result.hands.values()} == {Reason.NOT_DETECTED}
    found = []

    def detector(images, cameras):
        found.append(len(images))
        return {0: _pose(hand_model)}

    tracker = Tracker(net, hand_model, detector=detector)
    result = tracker.step(_images(), _cameras())
    assert found == [2]
    assert result.hands[0].views == (0, 1) and result.hands[1].reason is Reason.NOT_DETECTED


def test_bad_options_are_rejected(net, hand_model):
    with pytest.raises(ValueError):
        Tracker(net, hand_model, TrackerOptions(skeleton="maybe"))
