"""3D view with tracking results: predicted skinned meshes beside GT (own colour and toggle), and the
crop-camera frusta of the current frame."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from app.panels.scene3d import PREDICTION_MESH_RGBA, crop_frustum_segments
from app.session import SAMPLE_RECORDING
from umetrack.crop import CropCamera, crop_points, make_crop_camera
from umetrack.eval.ground_truth import gt_landmarks
from umetrack.geometry import transform_points
from umetrack.track.results import REASONS
from umetrack.track.tracker import Reason

pytestmark = pytest.mark.gui

FRAME = 120


@pytest.fixture
def tracked_sample(main_window, tracked_from_landmarks):
    """Predictions = GT (landmarks and poses); at FRAME each hand has a crop in views 0 and 1, built
    the way the tracker builds them."""
    window = main_window
    assert window.open_recording(SAMPLE_RECORDING)
    recording = window.session.recording
    truth = gt_landmarks(recording)
    tracking = tracked_from_landmarks(truth, np.full((len(truth), 2), REASONS.index(Reason.LOST_TRACK), np.int8))
    gt = recording.gt
    tracking = replace(tracking, joint_angles=gt.joint_angles.astype(np.float32), T_world_from_wrist=gt.T_world_from_wrist.astype(np.float32))
    model = recording.hand_model.to(torch.float64)
    cameras = recording.cameras(FRAME)
    for hand in (0, 1):
        pose = gt.pose(FRAME, hand)
        region = crop_points(model, pose.joint_angles, pose.T_world_from_wrist, hand)
        for slot, view in enumerate((0, 1)):
            crop = make_crop_camera(cameras[view].T_world_from_camera, region, hand, recording.camera_angles_deg[view])
            tracking.views[FRAME, hand, slot] = view
            tracking.T_crop_from_world[FRAME, hand, slot] = crop.T_crop_from_world.numpy()
            tracking.focal[FRAME, hand, slot] = float(crop.focal)
    window.session.set_tracking(tracking)
    return window


def test_predicted_meshes_are_skinned_from_the_predicted_poses(tracked_sample):
    window = tracked_sample
    panel = window.scene3d
    window.session.seek(FRAME)
    for hand in (0, 1):
        gt_vertices, _ = panel.posed_geometry(hand)
        vertices, landmarks = panel.predicted_geometry(hand)
        np.testing.assert_allclose(vertices, gt_vertices, atol=1e-5)  # float32 poses
        assert panel.meshes.has(("prediction", hand)) and panel.meshes.has(("gt", hand))
        assert panel.skeletons.has(("prediction", hand))
        np.testing.assert_allclose(panel.meshes.part(("prediction", hand))[0], vertices, atol=1e-6)  # what is drawn
    # Distinct colours: GT in the hand's colour, prediction translucent white.
    assert panel.meshes.rgba(("prediction", 0)) == pytest.approx(PREDICTION_MESH_RGBA)
    assert panel.meshes.rgba(("gt", 0)) != pytest.approx(PREDICTION_MESH_RGBA)
    # Moving the playhead rewrites the buffers in place (no new buffer, so no shader rebuild).
    panel.canvas.render_image()
    buffer = panel.meshes._positions
    window.session.seek(FRAME + 5)
    panel.canvas.render_image()
    assert panel.meshes._positions is buffer
    # The prediction layer toggles the predicted hands only; the mesh layer the GT hands only.
    window.session.set_layer_visible("prediction", False)
    assert not panel.meshes.has(("prediction", 0)) and not panel.skeletons.has(("prediction", 0))
    assert panel.meshes.has(("gt", 0))
    window.session.set_layer_visible("prediction", True)
    window.session.set_layer_visible("mesh", False)
    assert panel.meshes.has(("prediction", 0)) and not panel.meshes.has(("gt", 0))


def test_crop_frusta_of_the_current_frame(tracked_sample):
    window = tracked_sample
    panel = window.scene3d
    window.session.seek(FRAME - 1)
    assert panel.crop_frusta_count == 0 and not panel.lines.has("crops")
    window.session.seek(FRAME)
    assert panel.crop_frusta_count == 4 and panel.lines.has("crops")
    assert len(panel.lines.part("crops")[0]) == 4 * 16
    tracking = window.session.tracking
    camera = window.session.recording.cameras(FRAME)[1]
    crop = CropCamera(torch.as_tensor(tracking.T_crop_from_world[FRAME, 1, 1], dtype=torch.float64),
                      torch.as_tensor(tracking.focal[FRAME, 1, 1], dtype=torch.float64), hand_index=1)  # fmt: skip
    segments = crop_frustum_segments(crop, 0.3)
    # Apex at the source camera's centre; the far corners project onto the crop image's corners.
    np.testing.assert_allclose(segments[0], camera.T_world_from_camera[:3, 3].numpy(), atol=1e-6)
    far = torch.as_tensor(segments[[1, 5, 9, 13]], dtype=torch.float64)
    np.testing.assert_allclose(crop.project(far[None])[0].numpy(), [[0, 0], [95, 0], [95, 95], [0, 95]], atol=1e-3)
    # The panel draws the right hand's second crop (the last of the 4) with its far rectangle at the
    # predicted hand's mean depth in that crop (frusta are computed a chunk of frames at a time).
    landmarks = torch.as_tensor(tracking.landmarks[FRAME, 1], dtype=torch.float64)
    depth = float(transform_points(crop.T_crop_from_world, landmarks)[:, 2].mean())
    np.testing.assert_allclose(panel.lines.part("crops")[0][3 * 16:], crop_frustum_segments(crop, depth), atol=1e-5)
    window.session.set_layer_visible("cameras", False)
    assert not panel.lines.has("crops") and not panel.lines.has("headset")
    assert panel.lines.has("floor")  # its own layer
    window.session.set_layer_visible("floor", False)
    assert not panel.lines.has("floor")
