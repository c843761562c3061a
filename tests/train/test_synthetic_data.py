"""Training batches from the synthetic world: deterministic, and the labels match the pixels' geometry."""

import numpy as np
import pytest
import torch

from umetrack.crop import CropCamera
from umetrack.hand import fk
from umetrack.train.synthetic_data import SyntheticBatchSource, SyntheticDataConfig

CONFIG = SyntheticDataConfig(frames_per_sequence=240, sequences_per_pool=2, scenes=2)


@pytest.fixture(scope="module")
def source(hand_model):
    return SyntheticBatchSource(hand_model, seed=3, config=CONFIG)


@pytest.fixture(scope="module")
def batch(source):
    return source.batch(step=5, rank=0, sequences=4, length=3)


def test_same_step_same_batch(source, batch, hand_model):
    again = SyntheticBatchSource(hand_model, seed=3, config=CONFIG).batch(step=5, rank=0, sequences=4, length=3)
    torch.testing.assert_close(again.images, batch.images, rtol=0, atol=0)
    torch.testing.assert_close(again.joint_angles, batch.joint_angles, rtol=0, atol=0)
    other_rank = source.batch(step=5, rank=1, sequences=4, length=3)
    assert not torch.equal(other_rank.joint_angles, batch.joint_angles)


def test_shapes_views_and_memory_flags(batch):
    assert batch.images.shape == (4, 3, 2, 96, 96) and batch.images.dtype == torch.uint8
    assert set(batch.num_views.unique().tolist()) <= {1, 2}
    assert not batch.use_memory[:, 0].any()
    single = batch.num_views == 1
    assert (batch.images[single][:, 1] == 0).all()  # the unused slot stays empty
    assert batch.images[:, :, 0].float().std() > 10  # real rendered content


def test_ground_truth_lands_inside_its_crops(batch, hand_model):
    """The GT landmarks project into the crop that was rendered for them (crops come from a
    perturbed previous-frame pose, so allow a margin, as the tracker's crops would)."""
    for s in range(batch.num_sequences):
        hand = int(batch.hand_index[s])
        model = hand_model.scaled(float(batch.hand_scale[s])).to(torch.float64)
        for t in range(batch.sequence_length):
            landmarks = fk.landmarks(model, batch.joint_angles[s, t].double(), batch.T_world_from_wrist[s, t].double(), hand)
            for k in range(int(batch.num_views[s, t])):
                crop = CropCamera(batch.extrinsics[s, t, k].double(), batch.focal[s, t, k].double(), 96, hand)
                pixels = crop.project(landmarks[None])[0]
                inside = ((pixels > -10) & (pixels < 105)).all(-1).float().mean()
                assert inside > 0.9, (s, t, k, pixels)
                # And the hand is actually drawn there: the crop is brighter around the landmarks' centre.
                centre = pixels.mean(0).round().long().clamp(8, 87)
                image = batch.images[s, t, k].float()
                assert image[centre[1] - 8 : centre[1] + 8, centre[0] - 8 : centre[0] + 8].mean() > 5


def test_worker_processes_render_the_same_batches_as_inline(source):
    """Rendering ahead in a spawned worker process must not change what the optimiser sees."""
    from umetrack.train.loop import prefetched_batches

    # Crosses a block boundary (blocks of 40 steps), so the two workers get one block each.
    steps = range(source.steps_per_block - 2, source.steps_per_block + 1)
    inline = list(prefetched_batches(source, steps, 0, 2, 2, workers=0))
    ahead = list(prefetched_batches(source, steps, 0, 2, 2, workers=2))
    assert len(ahead) == len(inline) == 3
    for a, b in zip(inline, ahead):
        torch.testing.assert_close(a.images, b.images, rtol=0, atol=0)
        torch.testing.assert_close(a.extrinsics, b.extrinsics, rtol=0, atol=0)


def test_crop_noise_scale_multiplies_every_placement_perturbation():
    from umetrack.train.synthetic_data import with_crop_noise_scale

    base = SyntheticDataConfig()
    wider = with_crop_noise_scale(base, 3.0)
    assert wider.crop_translation_noise_m == pytest.approx(3 * base.crop_translation_noise_m)
    assert wider.crop_rotation_noise_rad == pytest.approx(3 * base.crop_rotation_noise_rad)
    assert wider.crop_angle_noise_rad == pytest.approx(3 * base.crop_angle_noise_rad)
    assert wider.roll_noise_deg == pytest.approx(3 * base.roll_noise_deg)
    assert wider.crop_depth_noise == pytest.approx(3 * base.crop_depth_noise)
    assert wider.single_view_probability == base.single_view_probability  # nothing else changes


def test_depth_noise_slides_the_crop_pose_along_the_reference_ray(source):
    """The tracker's characteristic error (hand too near or too far along the reference camera's
    ray) is what the depth perturbation reproduces."""
    from dataclasses import replace

    only_depth = SyntheticBatchSource(source.hand_model, seed=3, config=replace(CONFIG, crop_translation_noise_m=0.0, crop_rotation_noise_rad=0.0, crop_angle_noise_rad=0.0, crop_depth_noise=0.1))
    sequence, _ = only_depth._sequence(0)
    camera = sequence.T_world_from_camera[10, 0, :3, 3]
    true = sequence.T_world_from_wrist[9, 0, :3, 3]
    factors = []
    for draw in range(20):
        _, wrist = only_depth._crop_pose(np.random.default_rng(draw), sequence, 10, 0, camera)
        moved = wrist[:3, 3]
        ray, offset = true - camera, moved - camera
        assert torch.linalg.cross(ray, offset).norm() / (ray.norm() * offset.norm()) < 1e-9  # same ray
        factors.append(float(offset.norm() / ray.norm()))
    assert 0.03 < np.std(factors) < 0.2 and all(0.5 <= f <= 1.5 for f in factors)


def test_step_blocks_cut_steps_at_aligned_block_edges():
    from umetrack.train.loop import step_blocks

    assert step_blocks(range(38, 85), 40) == [[38, 39], list(range(40, 80)), list(range(80, 85))]
    assert step_blocks(range(0, 40), 40) == [list(range(40))]
    assert step_blocks(range(3, 3), 40) == []
    assert step_blocks([0, 40, 80, 81], 40) == [[0], [40], [80, 81]]
    assert step_blocks(range(0, 3), 1) == [[0], [1], [2]]


def test_recalibration_steps_come_from_distinct_blocks(source):
    """BatchNorm statistics over one block would describe 4 sequences and one scene."""
    from umetrack.train.loop import spread_steps, steps_per_block

    block = steps_per_block(source)
    steps = spread_steps(9893, 5, block)
    assert len({step // block for step in steps}) == 5 and min(steps) >= 9893
    assert spread_steps(80, 2, 40) == [80, 120]


def test_a_crop_that_fails_from_the_perturbed_pose_falls_back_to_the_true_pose(source, monkeypatch):
    """Perturbed crop poses can reach behind a camera; those frames are cropped from their true pose."""
    import umetrack.train.synthetic_data as module

    real, calls = module.make_crop_cameras, []

    def first_call_fails_once(*args, **kwargs):
        cameras, ok = real(*args, **kwargs)
        calls.append(len(cameras))
        if len(calls) == 1:
            cameras[0], ok = None, ok.clone()
            ok[0] = False
        return cameras, ok

    monkeypatch.setattr(module, "make_crop_cameras", first_call_fails_once)
    expected = source.batch(step=9, rank=0, sequences=1, length=3)
    assert len(calls) == 2 and calls[1] >= 1  # the failed frame's crops were made again
    monkeypatch.setattr(module, "make_crop_cameras", real)
    clean = source.batch(step=9, rank=0, sequences=1, length=3)
    # Frame 0 changed (true pose instead of the perturbed one); its views and every other frame did not.
    assert torch.equal(expected.num_views, clean.num_views)
    assert not torch.equal(expected.extrinsics[0, 0, 0], clean.extrinsics[0, 0, 0])
    torch.testing.assert_close(expected.extrinsics[0, 1:], clean.extrinsics[0, 1:], rtol=0, atol=0)
