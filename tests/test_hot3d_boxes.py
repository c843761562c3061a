"""Independent oracle: our FK + fisheye624 + extrinsics reproduce HOT3D's 2D hand boxes.

``box2d_hands.csv`` is the extent of the projected full skinned GT mesh (not clipped to the image),
computed by HOT3D's own tooling from the same GT; data_formats.md §6.
"""

import torch

from umetrack.camera import read_hot3d_camera_models
from umetrack.hand import fk
from umetrack.hand.io import load_hand_model
from umetrack.recording.hot3d import read_box2d_hands, read_hand_pose_trajectory, read_headset_trajectory

TOLERANCE_PX = 5.0


def test_projected_gt_mesh_reproduces_hot3d_boxes(hot3d_dir):
    model = load_hand_model(hot3d_dir / "umetrack_hand_user_profile.json").to(torch.float64)
    cameras = read_hot3d_camera_models(hot3d_dir / "camera_models.json")
    headset = read_headset_trajectory(hot3d_dir / "headset_trajectory.csv")
    poses = read_hand_pose_trajectory(hot3d_dir / "umetrack_hand_pose_trajectory.jsonl")
    boxes = [b for b in read_box2d_hands(hot3d_dir / "box2d_hands.csv") if b.x_min is not None]
    assert len(boxes) >= 50  # 15 frames x 2 cameras x 2 hands, nearly all visible

    worst = 0.0
    for box in boxes:
        pose = poses[box.timestamp_ns][box.hand_index]
        vertices = fk.mesh_vertices(model, pose.joint_angles, pose.T_world_from_wrist, box.hand_index)
        camera = cameras[box.stream_id].in_world(headset.at(box.timestamp_ns))
        pixels, valid = camera.project_world(vertices)
        assert valid.all()
        ours = torch.stack([pixels[:, 0].min(), pixels[:, 0].max(), pixels[:, 1].min(), pixels[:, 1].max()])
        theirs = torch.tensor([box.x_min, box.x_max, box.y_min, box.y_max], dtype=ours.dtype)
        error = (ours - theirs).abs().max().item()
        worst = max(worst, error)
        assert error <= TOLERANCE_PX, f"{box.stream_id} hand {box.hand_index} t={box.timestamp_ns}: {ours} vs {theirs}"
    print(f"worst box edge error {worst:.2f} px over {len(boxes)} boxes")
