"""Training losses of the paper (§3.4): pose, temporal and pinch, plus the released code's extras.

L = L_pose + lambda_t L_temp + lambda_p L_pinch, with lambda_t = 0.05, lambda_p = 0.4 (paper).

* L_pose = sum_j |p_j(theta, T) - p_j(theta^, T^)|_1 + lambda_theta |theta - theta^|_1
           + lambda_w |w(T) - w(T^)|_1, lambda_theta = 0.05, lambda_w = 0.5, p_j = FK keypoints (21)
  with the known skeleton (Regressor-K) or the predicted-scale skeleton (Regressor-U), w = translation.
  Keypoints are compared in the reference crop camera: the loss is invariant to that rigid choice
  and it avoids inverting the crop extrinsics.
* Wrist points: L1 between the 7 predicted reference points and their ground truth positions. The
  paper does not list it, but the SVD head only learns through these points, and supervising them
  directly is what makes the Kabsch decoding well conditioned early in training.
* L_temp = sum_t |acc(theta^, t)|_1 + |acc(T^, t)|_1, acc(x, t) = x_{t+1} + x_{t-1} - 2 x_t, on
  the predicted angles and wrist transforms (rotation entries and translation in metres).
* L_pinch: the printed formula is garbled; its evident intent is a hinge on the thumb-index tip
  distance d: l max(d - eps1, 0) + (1 - l) max(eps2 - d, 0), eps1 = 1 cm, eps2 = 2 cm.
* Uncertainty (released outputs, no released loss): Laplace negative log-likelihood
  |e| / sigma + log sigma per landmark, weighted small so it never drives the pose.
* Hand scale (Regressor-U): L1 on log scale.

Lengths are metres; the pose loss is reported in millimetres-equivalent magnitudes only through
its weights, so every term stays O(0.01-1) at the start of training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from umetrack.hand import fk
from umetrack.hand.model import INDEX_TIP, THUMB_TIP, HandModel

LAMBDA_TEMPORAL = 0.05
LAMBDA_PINCH = 0.4
LAMBDA_ANGLES = 0.05
LAMBDA_TRANSLATION = 0.5
LAMBDA_WRIST_POINTS = 1.0
LAMBDA_UNCERTAINTY = 0.01
LAMBDA_SCALE = 1.0
PINCH_CLOSED_M = 0.01
PINCH_OPEN_M = 0.02


@dataclass(frozen=True)
class PoseTargets:
    """Ground truth for B hand-steps, in the reference crop camera of each step.

    Attributes:
        joint_angles: (B, 22) radians.
        T_crop_from_wrist: (B, 4, 4) left-hand-convention wrist in the (mirrored for right hands) crop camera.
        wrist_points: (B, 7, 3) reference points under T_crop_from_wrist.
        hand_scale: (B,) true scale of the hand relative to the model.
        pinch: (B,) float 0/1 labels.
    """

    joint_angles: torch.Tensor
    T_crop_from_wrist: torch.Tensor
    wrist_points: torch.Tensor
    hand_scale: torch.Tensor
    pinch: torch.Tensor


def keypoints(model: HandModel, angles: torch.Tensor, T_crop_from_wrist: torch.Tensor, scale: torch.Tensor | None) -> torch.Tensor:
    """(B, 21, 3) landmarks in the crop camera, left-hand convention."""
    return fk.landmarks(model, angles, T_crop_from_wrist, 0, scale)


def pose_loss(
    model: HandModel,
    predicted_angles: torch.Tensor,
    predicted_T: torch.Tensor,
    targets: PoseTargets,
    predicted_scale: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """L_pose per hand-step.

    Returns:
        loss (B,), predicted keypoints (B, 21, 3), true keypoints (B, 21, 3).
    """
    scale_true = targets.hand_scale
    scale_pred = predicted_scale if predicted_scale is not None else scale_true
    true_kp = keypoints(model, targets.joint_angles, targets.T_crop_from_wrist, scale_true)
    pred_kp = keypoints(model, predicted_angles, predicted_T, scale_pred)
    landmark_term = (pred_kp - true_kp).abs().sum(-1).sum(-1)
    angle_term = (predicted_angles[:, :20] - targets.joint_angles[:, :20]).abs().sum(-1)
    translation_term = (predicted_T[:, :3, 3] - targets.T_crop_from_wrist[:, :3, 3]).abs().sum(-1)
    loss = landmark_term + LAMBDA_ANGLES * angle_term + LAMBDA_TRANSLATION * translation_term
    return loss, pred_kp, true_kp


def wrist_points_loss(predicted_points: torch.Tensor, targets: PoseTargets) -> torch.Tensor:
    """(B,) L1 over the 7 reference points."""
    return (predicted_points - targets.wrist_points).abs().sum(-1).sum(-1)


def uncertainty_loss(uncertainty: torch.Tensor, predicted_kp: torch.Tensor, true_kp: torch.Tensor) -> torch.Tensor:
    """(B,) Laplace NLL of the per-landmark errors (errors detached: sigma learns to explain them)."""
    error = (predicted_kp - true_kp).norm(dim=-1).detach()
    return (error / uncertainty + torch.log(uncertainty)).sum(-1)


def scale_loss(predicted_scale: torch.Tensor, targets: PoseTargets) -> torch.Tensor:
    return (torch.log(predicted_scale) - torch.log(targets.hand_scale)).abs()


def acceleration(x: torch.Tensor) -> torch.Tensor:
    """x_{t+1} + x_{t-1} - 2 x_t along dim 1 of (S, T, ...) -> (S, T-2, ...)."""
    return x[:, 2:] + x[:, :-2] - 2.0 * x[:, 1:-1]


def temporal_loss(angles: torch.Tensor, T_world_from_wrist: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """L_temp per sequence.

    Args:
        angles: (S, T, 22); T_world_from_wrist: (S, T, 4, 4); valid: (S, T) bool.
    Returns:
        (S,) sum over valid triplets of |acc(angles)|_1 + |acc(rotation, translation)|_1.
    """
    if angles.shape[1] < 3:
        return angles.new_zeros(angles.shape[0])
    triplet = valid[:, 2:] & valid[:, 1:-1] & valid[:, :-2]
    acc_angles = acceleration(angles[..., :20]).abs().sum(-1)
    acc_T = acceleration(T_world_from_wrist[..., :3, :].flatten(-2)).abs().sum(-1)
    return ((acc_angles + acc_T) * triplet).sum(-1)


def pinch_loss(predicted_kp: torch.Tensor, pinch: torch.Tensor) -> torch.Tensor:
    """(B,) hinge on the predicted thumb-index tip distance: closed pinches below 1 cm, open ones above 2 cm."""
    distance = (predicted_kp[:, THUMB_TIP] - predicted_kp[:, INDEX_TIP]).norm(dim=-1)
    return pinch * torch.relu(distance - PINCH_CLOSED_M) + (1.0 - pinch) * torch.relu(PINCH_OPEN_M - distance)
