"""The tracker places crops and skins predictions for all hands and views in batched calls
(``Tracker._place_crops``, ``Tracker._hand_results``). On frames of the bundled sample with the
shipped light model, its crops and landmarks must match a per-hand, per-view reference built from
the unbatched functions: single-model projections (``Camera.visible``), ``make_crop_camera``,
``warp_image`` per crop and ``fk.landmarks`` per hand."""

import numpy as np
import pytest
import torch

from umetrack.crop import crop_points, make_crop_camera, warp_image
from umetrack.hand import fk
from umetrack.recording import open_recording
from umetrack.resources import LIGHT_TRACKER_WEIGHTS, SAMPLE_RECORDING
from umetrack.track.tracker import MAX_VIEWS, MIN_VISIBLE_LANDMARKS, Reason, Tracker, TrackerOptions
from umetrack.train.loop import load_trained_network, make_network

SAMPLE = SAMPLE_RECORDING
LIGHT = LIGHT_TRACKER_WEIGHTS
FRAMES = (0, 1, 2, 40, 41)


def _network():
    if LIGHT.exists():
        return load_trained_network(LIGHT)[0]
    torch.manual_seed(0)
    return make_network("light").eval()


def _reference_batch(tracker, images, cameras, gt):
    """(hand, views, crops, crop images) the unbatched way, one hand and one view at a time."""
    batch = []
    for hand in (0, 1):
        pose = gt[hand]
        region = crop_points(tracker.hand_model, pose.joint_angles.double(), pose.T_world_from_wrist.double(), hand)
        views = [v for v, c in enumerate(cameras) if int(c.visible(region[:21]).sum()) >= MIN_VISIBLE_LANDMARKS][:MAX_VIEWS]
        crops = [make_crop_camera(cameras[v].T_world_from_camera, region, hand, tracker._camera_angle(v)) for v in views]
        crop_images = np.stack([warp_image(images[v], crop, cameras[v]) for v, crop in zip(views, crops)])
        batch.append((hand, views, crops, crop_images))
    return batch


@pytest.mark.skipif(not SAMPLE.exists(), reason="bundled sample recording missing")
@pytest.mark.parametrize("skeleton", ["known", "unknown"])
def test_batched_tracker_matches_the_per_hand_per_view_path(skeleton):
    recording = open_recording(SAMPLE)
    net = _network()
    options = TrackerOptions(crops="oracle", skeleton=skeleton)
    tracker = Tracker(net, recording.hand_model, options, camera_angles_deg=recording.camera_angles_deg)
    reference = Tracker(net, recording.hand_model, options, camera_angles_deg=recording.camera_angles_deg)
    compared = 0
    for frame in FRAMES:
        images, cameras, gt = recording.images(frame), recording.cameras(frame), recording.gt_poses(frame)
        assert set(gt) == {0, 1}
        result = tracker.step(images, cameras, gt)
        expected = _reference_batch(reference, images, cameras, gt)
        outputs = reference._run_network(expected)  # also advances the reference's temporal memory
        for (hand, views, crops, crop_images), (angles, wrist, _, scale) in zip(expected, outputs):
            got = result.hands[hand]
            assert got.views == tuple(views)
            assert np.abs(got.crop_images.astype(int) - crop_images.astype(int)).max() <= 1
            for crop, crop_ref in zip(got.crops, crops):
                assert crop.hand_index == hand
                torch.testing.assert_close(crop.T_crop_from_world, crop_ref.T_crop_from_world, rtol=0, atol=1e-12)
            if got.reason is Reason.TRACKED:
                landmarks = fk.landmarks(reference.hand_model if scale is None else reference.hand_model.scaled(scale), angles.double(), wrist.double(), hand)
                assert np.abs(got.landmarks - landmarks.numpy()).max() < 1e-4  # metres
                if scale is not None:
                    assert abs(got.hand_scale - scale) < 1e-3
                compared += 1
    assert compared >= len(FRAMES)  # most hand-frames are tracked, so landmarks were compared


@pytest.mark.skipif(not SAMPLE.exists(), reason="bundled sample recording missing")
def test_folded_batchnorm_network_changes_outputs_only_by_rounding():
    recording = open_recording(SAMPLE)
    net = _network()
    keys = list(net.state_dict())
    exact = Tracker(net, recording.hand_model, TrackerOptions(crops="oracle", fold_batchnorm=False), camera_angles_deg=recording.camera_angles_deg)
    folded = Tracker(net, recording.hand_model, TrackerOptions(crops="oracle", fold_batchnorm=True), camera_angles_deg=recording.camera_angles_deg)
    assert folded.net is not net and list(net.state_dict()) == keys  # the caller's network is untouched
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.net._feature_extractor._image_backbone.modules())
    for frame in FRAMES:
        images, cameras, gt = recording.images(frame), recording.cameras(frame), recording.gt_poses(frame)
        a, b = exact.step(images, cameras, gt), folded.step(images, cameras, gt)
        for hand in (0, 1):
            assert a.hands[hand].reason is b.hands[hand].reason
            if a.hands[hand].landmarks is not None:
                assert np.abs(a.hands[hand].landmarks - b.hands[hand].landmarks).max() < 1e-4
