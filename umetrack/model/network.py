"""The UmeTrack network, laid out so the released state_dict loads strictly (network.md §8).

Data flow for one time step of B hands (each seen in 1 or 2 views):

  crops (B, 2, 96, 96) --shared image encoder--> (B*2, 72, 6, 6)
     --FTL into the reference (first) view, 2-view fusion MLP--> z3d (B, 72, 6, 6), cam0 metric space
  z3d + memory (B, 18, 6, 6) --temporal module--> zT (B, 72, 6, 6), new memory
  skeleton (132) --skeleton encoder--> zH (B, 4, 6, 6)
  Regressor-K(zT ++ zH) -> 20 angles, 7 wrist points, 21 sigmas
  Regressor-U(zT)       -> 20 angles, 7 wrist points, log scale, 21 sigmas
  wrist points --Kabsch--> X (wrist -> crop cam0);  T_world_from_wrist = E0^-1 X (column 0 negated for right hands)

Differences from the paper follow the released code (network.md §9): a 132-value skeleton input
(22 joints), 62/63 regressor outputs with per-landmark uncertainty, BatchNorm in the fusion MLP,
and the released wrist reference points. The temporal state is explicit (``TemporalState``) rather
than hidden inside the module, so training can unroll sequences and the tracker owns its state;
it is not part of the state_dict either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from umetrack.hand.fk import left_hand_wrist
from umetrack.hand.model import NUM_FINGER_JOINTS, NUM_LANDMARKS
from umetrack.model.ftl import feature_transform, focal_scale_transform, full_precision
from umetrack.model.root import rigid_from_points

FEATURE_CHANNELS = 72
MEMORY_CHANNELS = 18
SKELETON_CHANNELS = 4
FEATURE_SIZE = 6
SKELETON_FEATURES = 132
NUM_WRIST_POINTS = 7
OUTPUTS_KNOWN = NUM_FINGER_JOINTS + 3 * NUM_WRIST_POINTS + NUM_LANDMARKS  # 62
OUTPUTS_UNKNOWN = OUTPUTS_KNOWN + 1  # 63: + log hand scale


@dataclass(frozen=True)
class EncoderConfig:
    """ResNet-style image encoder. The default is the released "resnet_layers_2352-f32" layout."""

    widths: tuple[int, int, int, int] = (32, 64, 128, 256)
    blocks: tuple[int, int, int, int] = (2, 3, 5, 2)
    stem_width: int = 32


RELEASED_ENCODER = EncoderConfig()


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN + shortcut, ReLU (torchvision naming: conv1, bn1, conv2, bn2, downsample)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNetEncoder(nn.Module):
    """Stem + four stages; 96x96x1 -> (widths[-1]) x 6 x 6. Attribute ``_layers`` gives the released names."""

    def __init__(self, config: EncoderConfig = RELEASED_ENCODER):
        super().__init__()
        stem = nn.Sequential(
            nn.Conv2d(1, config.stem_width, 3, 1, 1, bias=True),
            nn.BatchNorm2d(config.stem_width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2, 2),
        )
        stages = []
        in_channels = config.stem_width
        for index, (width, count) in enumerate(zip(config.widths, config.blocks)):
            stride = 1 if index == 0 else 2
            blocks = [BasicBlock(in_channels, width, stride)] + [BasicBlock(width, width) for _ in range(count - 1)]
            stages.append(nn.Sequential(*blocks))
            in_channels = width
        self._layers = nn.ModuleList([stem, *stages])
        self.out_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self._layers:
            x = layer(x)
        return x


class FeatureExtractor(nn.Module):
    """Shared image encoder + FTL + 2-view fusion -> z3d in the reference crop camera's metric space."""

    def __init__(self, encoder: EncoderConfig = RELEASED_ENCODER):
        super().__init__()
        backbone = ResNetEncoder(encoder)
        self._image_backbone = nn.Sequential(backbone, nn.Conv2d(backbone.out_channels, FEATURE_CHANNELS, 1, bias=True))
        fused = 2 * FEATURE_CHANNELS
        middle = (fused + FEATURE_CHANNELS) // 2  # linspace(144, 72, 3) = 144, 108, 72
        self._multi_view_fusion = nn.Sequential(
            nn.Conv2d(fused, middle, 1),
            nn.BatchNorm2d(middle),
            nn.ReLU(inplace=True),
            nn.Conv2d(middle, FEATURE_CHANNELS, 1),
            nn.BatchNorm2d(FEATURE_CHANNELS),
            nn.ReLU(inplace=True),
            nn.Conv2d(FEATURE_CHANNELS, FEATURE_CHANNELS, 1),
        )

    def forward(
        self, images: torch.Tensor, focal: torch.Tensor, extrinsics: torch.Tensor, num_views: torch.Tensor
    ) -> torch.Tensor:
        """
        Args:
            images: (B, 2, 96, 96) crops in [0, 1]; view 0 is the reference. Slot 1 is ignored
                (may hold anything) for hands with one view.
            focal: (B, 2) crop focal lengths, px.
            extrinsics: (B, 2, 4, 4) crop world -> eye, metres, right-hand mirror included.
            num_views: (B,) 1 or 2.
        Returns:
            (B, 72, 6, 6)
        """
        return self.fuse_views(self.encode_crops(images, num_views), focal, extrinsics, num_views)

    def encode_crops(self, images: torch.Tensor, num_views: torch.Tensor) -> torch.Tensor:
        """The image encoder alone: (B, 2, 96, 96) crops in [0, 1] -> per-view features (B, 2, 72, 6, 6),
        zeros in slot 1 of one-view hands. What ``umetrack encode-crops`` caches for training the rest."""
        two = num_views == 2
        # One backbone call over every crop of the batch: BatchNorm then normalises one population
        # in training, as it does at inference, instead of separate 1-view and 2-view sub-batches
        # whose statistics differ from the running ones (an eval-mode depth bias of ~25 mm).
        used = torch.stack([torch.ones_like(two), two], dim=1)  # (B, 2)
        features = self._image_backbone(images[used][:, None])  # (crops, 72, 6, 6), row-major (hand, view)
        per_view = features.new_zeros(images.shape[0], 2, *features.shape[1:])
        per_view[used] = features
        return per_view

    def fuse_views(self, per_view: torch.Tensor, focal: torch.Tensor, extrinsics: torch.Tensor, num_views: torch.Tensor) -> torch.Tensor:
        """FTL + 2-view fusion of ``encode_crops``' output (B, 2, 72, 6, 6) -> z3d (B, 72, 6, 6); the
        other arguments as in ``forward``."""
        batch = per_view.shape[0]
        two = num_views == 2
        z = per_view.new_empty(batch, FEATURE_CHANNELS, FEATURE_SIZE, FEATURE_SIZE, dtype=torch.float32)
        S0 = focal_scale_transform(focal[:, 0])
        one = ~two
        if one.any():
            z[one] = feature_transform(per_view[one, 0], S0[one])
        if two.any():
            pair = per_view[two]  # (B2, 2, 72, 6, 6)
            with full_precision(per_view.device):
                S = focal_scale_transform(focal[two].float())  # (B2, 2, 4, 4)
                E = extrinsics[two].float()
                # A_i = S0^-1 E0 Ei^-1 Si: view i's scaled space -> view 0's scaled space (A_0 = I).
                A1 = torch.linalg.inv(S[:, 0]) @ E[:, 0] @ torch.linalg.inv(E[:, 1]) @ S[:, 1]
            g0 = pair[:, 0]
            g1 = feature_transform(pair[:, 1], A1)
            fused = self._multi_view_fusion(torch.cat([g0.to(g1.dtype), g1], dim=1))
            z[two] = feature_transform(fused, S[:, 0])
        return z


@dataclass(frozen=True)
class TemporalState:
    """Recurrent state of a batch of hand slots: memory (B, 18, 6, 6) and the previous reference extrinsics (B, 4, 4)."""

    memory: torch.Tensor
    extrinsics: torch.Tensor


class TemporalModule(nn.Module):
    def __init__(self):
        super().__init__()
        channels = MEMORY_CHANNELS + FEATURE_CHANNELS
        self._temporal_module = nn.Sequential(
            nn.Conv2d(channels, channels, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 1),
        )

    def forward(
        self, z: torch.Tensor, extrinsics: torch.Tensor, state: TemporalState | None, use_memory: torch.Tensor | None
    ) -> tuple[torch.Tensor, TemporalState]:
        """
        Args:
            z: (B, 72, 6, 6) spatial features in the current reference crop camera.
            extrinsics: (B, 4, 4) current reference crop world -> eye.
            state: previous state, or None (all memories start at zero).
            use_memory: (B,) bool; False zeroes that slot's memory (first frame, or after a lost track).
        Returns:
            zT (B, 72, 6, 6) and the new state.
        """
        batch = z.shape[0]
        memory = z.new_zeros(batch, MEMORY_CHANNELS, FEATURE_SIZE, FEATURE_SIZE)
        if state is not None and use_memory is not None and bool(use_memory.any()):
            # Re-express last step's memory in the current reference camera: E_cur E_prev^-1.
            keep = use_memory.to(torch.bool)
            with full_precision(z.device):
                relative = extrinsics[keep].float() @ torch.linalg.inv(state.extrinsics[keep].float())
            memory[keep] = feature_transform(state.memory[keep].to(z.dtype), relative)
        out = self._temporal_module(torch.cat([memory, z], dim=1))
        new_state = TemporalState(memory=out[:, :MEMORY_CHANNELS], extrinsics=extrinsics)
        return out[:, MEMORY_CHANNELS:], new_state


class _Reshape(nn.Module):
    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)


class SkeletonEncoder(nn.Module):
    """132 skeleton values (22 x [axis, rest position m]) -> (B, 4, 6, 6)."""

    def __init__(self):
        super().__init__()
        self._layers = nn.Sequential(
            nn.Linear(SKELETON_FEATURES, SKELETON_CHANNELS * FEATURE_SIZE * FEATURE_SIZE),
            _Reshape(SKELETON_CHANNELS, FEATURE_SIZE, FEATURE_SIZE),
            nn.BatchNorm2d(SKELETON_CHANNELS),
            nn.ReLU(inplace=True),
        )

    def forward(self, skeleton: torch.Tensor) -> torch.Tensor:
        return self._layers(skeleton)


class Regressor(nn.Module):
    def __init__(self, in_channels: int, outputs: int):
        super().__init__()
        self._pose_regression_layers = nn.Sequential(
            BasicBlock(in_channels, in_channels),
            BasicBlock(in_channels, in_channels),
            nn.Conv2d(in_channels, outputs, 1),
            nn.AdaptiveAvgPool2d(1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._pose_regression_layers(x).flatten(1)


@dataclass(frozen=True)
class PoseOutput:
    """Decoded network output for B hands (metres, radians).

    Attributes:
        joint_angles: (B, 22), the last two (wrist DOFs) are zero as in the released code.
        wrist_points: (B, 7, 3) predicted reference points in the reference crop camera.
        T_crop_from_wrist: (B, 4, 4) Kabsch fit of those points (left-hand frame, crop cam0).
        T_world_from_wrist: (B, 4, 4) in each hand's own convention (proper rigid for both hands).
        uncertainty: (B, 21) per-landmark sigma (training only).
        hand_scale: (B,) for the unknown-skeleton head, else None.
        state: the temporal state after this step.
    """

    joint_angles: torch.Tensor
    wrist_points: torch.Tensor
    T_crop_from_wrist: torch.Tensor
    T_world_from_wrist: torch.Tensor
    uncertainty: torch.Tensor
    hand_scale: torch.Tensor | None
    state: TemporalState

    def to(self, device: str | torch.device) -> "PoseOutput":
        """The same output with every tensor on ``device``."""
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return PoseOutput(move(self.joint_angles), move(self.wrist_points), move(self.T_crop_from_wrist), move(self.T_world_from_wrist),
                          move(self.uncertainty), move(self.hand_scale), TemporalState(move(self.state.memory), move(self.state.extrinsics)))  # fmt: skip


class UmeTrackNet(nn.Module):
    """The full network. Attribute names reproduce the released state_dict keys exactly."""

    def __init__(self, encoder: EncoderConfig = RELEASED_ENCODER):
        super().__init__()
        self.encoder_config = encoder
        self._feature_extractor = FeatureExtractor(encoder)
        self._temporal = TemporalModule()
        self._skeleton_enc = SkeletonEncoder()
        self._regressor_k = Regressor(FEATURE_CHANNELS + SKELETON_CHANNELS, OUTPUTS_KNOWN)
        self._regressor_u = Regressor(FEATURE_CHANNELS, OUTPUTS_UNKNOWN)

    def forward(
        self,
        images: torch.Tensor,
        focal: torch.Tensor,
        extrinsics: torch.Tensor,
        num_views: torch.Tensor,
        hand_index: torch.Tensor,
        skeleton: torch.Tensor | None,
        state: TemporalState | None = None,
        use_memory: torch.Tensor | None = None,
    ) -> PoseOutput:
        """One time step for B hands.

        Args:
            images, focal, extrinsics, num_views: see ``FeatureExtractor.forward``.
            hand_index: (B,) 0 left, 1 right.
            skeleton: (132,) or (B, 132) left-hand skeleton features (``HandModel.skeleton_features``),
                metres: known-skeleton mode (Regressor-K). None: unknown skeleton (Regressor-U, predicts scale).
            state, use_memory: temporal state from the previous step and which slots continue.
        """
        z_t, new_state = self.temporal_features(images, focal, extrinsics, num_views, state, use_memory)
        if skeleton is not None:
            return self.regress_known(z_t, skeleton, extrinsics[:, 0], hand_index, new_state)
        return self.regress_unknown(z_t, extrinsics[:, 0], hand_index, new_state)

    def temporal_features(
        self,
        images: torch.Tensor,
        focal: torch.Tensor,
        extrinsics: torch.Tensor,
        num_views: torch.Tensor,
        state: TemporalState | None = None,
        use_memory: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, TemporalState]:
        """Encoder, fusion and temporal module: zT (B, 72, 6, 6) and the new state (shared by both heads)."""
        z = self.spatial_features(images, focal, extrinsics, num_views)
        return self.temporal_step(z, extrinsics[:, 0], state, use_memory)

    def spatial_features(self, images: torch.Tensor, focal: torch.Tensor, extrinsics: torch.Tensor, num_views: torch.Tensor) -> torch.Tensor:
        """Encoder + FTL + fusion: z3d (B, 72, 6, 6). Independent of time, so training runs it once
        over all steps of a batch of sequences (B = sequences x steps)."""
        return self._feature_extractor(images, focal, extrinsics, num_views)

    def spatial_features_from_crop_features(
        self, crop_features: torch.Tensor, focal: torch.Tensor, extrinsics: torch.Tensor, num_views: torch.Tensor
    ) -> torch.Tensor:
        """``spatial_features`` after the image encoder: per-view features (B, 2, 72, 6, 6) from
        ``FeatureExtractor.encode_crops`` -> z3d (B, 72, 6, 6)."""
        return self._feature_extractor.fuse_views(crop_features, focal, extrinsics, num_views)

    def temporal_step(
        self, z: torch.Tensor, reference_extrinsics: torch.Tensor, state: TemporalState | None, use_memory: torch.Tensor | None
    ) -> tuple[torch.Tensor, TemporalState]:
        """The recurrent module for one step: zT (B, 72, 6, 6) and the new state."""
        return self._temporal(z, reference_extrinsics, state, use_memory)

    def regress_known(
        self, z_t: torch.Tensor, skeleton: torch.Tensor, reference_extrinsics: torch.Tensor, hand_index: torch.Tensor, state: TemporalState
    ) -> PoseOutput:
        """Regressor-K: pose given the hand's skeleton features (132,) or (B, 132)."""
        skeleton = skeleton.to(z_t.dtype).expand(z_t.shape[0], SKELETON_FEATURES)
        raw = self._regressor_k(torch.cat([z_t, self._skeleton_enc(skeleton)], dim=1)).float()
        return decode_output(raw, reference_extrinsics, hand_index, None, raw[:, 41:62], state)

    def regress_unknown(
        self, z_t: torch.Tensor, reference_extrinsics: torch.Tensor, hand_index: torch.Tensor, state: TemporalState
    ) -> PoseOutput:
        """Regressor-U: pose and hand scale without a skeleton."""
        raw = self._regressor_u(z_t).float()
        return decode_output(raw, reference_extrinsics, hand_index, torch.exp(raw[:, 41]), raw[:, 42:63], state)


def decode_output(
    raw: torch.Tensor,
    reference_extrinsics: torch.Tensor,
    hand_index: torch.Tensor,
    scale: torch.Tensor | None,
    sigma_raw: torch.Tensor,
    state: TemporalState,
) -> PoseOutput:
    """Turn regressor outputs into angles and world wrist transforms (network.md §7), in float32."""
    with full_precision(raw.device):
        return _decode(raw.float(), reference_extrinsics.float(), hand_index, scale, sigma_raw.float(), state)


def _decode(raw, reference_extrinsics, hand_index, scale, sigma_raw, state) -> PoseOutput:
    angles = torch.cat([raw[:, :NUM_FINGER_JOINTS], raw.new_zeros(raw.shape[0], 2)], dim=1)
    points = raw[:, 20:41].reshape(-1, NUM_WRIST_POINTS, 3)
    T_crop_from_wrist = rigid_from_points(points)
    # E0^-1 is a reflection for right hands (mirrored crop); negating column 0 makes W proper again.
    T_world = torch.linalg.inv(reference_extrinsics.to(raw.dtype)) @ T_crop_from_wrist
    T_world = left_hand_wrist(T_world, hand_index)
    uncertainty = torch.nn.functional.softplus(sigma_raw).clamp_min(1e-5)
    return PoseOutput(angles, points, T_crop_from_wrist, T_world, uncertainty, scale, state)
