"""3D view (vispy): skinned hand meshes, skeletons and a floor grid, orbit/pan/zoom.

Under software GL vispy recompiles the mesh shaders on every ``Mesh.set_data``, which makes
playback crawl; ``SkinnedMesh`` keeps the topology fixed and rewrites only the vertex and normal
buffers in place.
"""

from __future__ import annotations

import numpy as np
import torch
from PySide6 import QtWidgets
from vispy import scene

from app.session import Session
from umetrack.hand import fk
from umetrack.hand.model import SKELETON_BONES

HAND_COLORS = {0: (0.35, 0.62, 0.95, 1.0), 1: (0.98, 0.62, 0.30, 1.0)}
FLOOR_HEIGHT_M = -0.35
LIGHT_DIRECTION = (-0.4, 0.6, 1.0)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals. vertices (V, 3), faces (F, 3) -> (V, 3)."""
    corners = vertices[faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_normals)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


class SkinnedMesh:
    """A vispy Mesh whose vertices change every frame while its faces never do."""

    def __init__(self, parent, faces: np.ndarray, color):
        self.faces = np.ascontiguousarray(faces, dtype=np.uint32)
        self.visual = scene.visuals.Mesh(parent=parent, shading="smooth", color=color)
        self._topology_ready = False

    def set_vertices(self, vertices: np.ndarray) -> None:
        vertices = np.ascontiguousarray(vertices, dtype=np.float32)
        normals = vertex_normals(vertices, self.faces)
        vertex_buffer = getattr(self.visual, "_vertices", None)
        shading = getattr(self.visual, "shading_filter", None)
        normal_buffer = getattr(shading, "_normals", None)
        if not self._topology_ready or vertex_buffer is None or normal_buffer is None:
            self.visual.set_data(vertices=vertices, faces=self.faces)
            # Light from behind the viewer's shoulder (vispy's default lights the far side of the hands).
            self.visual.shading_filter.light_dir = LIGHT_DIRECTION
            self._topology_ready = True
            return
        # In-place: same buffer sizes, so only glBufferSubData runs; no shader is rebuilt.
        vertex_buffer.set_data(vertices[self.faces].reshape(-1, 3))
        normal_buffer.set_data(normals[self.faces].reshape(-1, 3).astype(np.float32))
        self.visual.update()

    def set_faces(self, faces: np.ndarray) -> None:
        self.faces = np.ascontiguousarray(faces, dtype=np.uint32)
        self._topology_ready = False


def floor_grid_segments(height: float, half_size: float = 1.0, step: float = 0.1) -> np.ndarray:
    """(2 * 2 * n, 3) line-segment endpoints of a square grid in the y = height plane."""
    ticks = np.arange(-half_size, half_size + 1e-9, step)
    segments = []
    for t in ticks:
        segments += [(t, height, -half_size), (t, height, half_size), (-half_size, height, t), (half_size, height, t)]
    return np.asarray(segments, dtype=np.float32)


class Scene3DPanel(QtWidgets.QWidget):
    """Observes the session's poses, hand model and layer toggles."""

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("scene3d")
        self.session = session
        self.canvas = scene.SceneCanvas(keys=None, bgcolor=(0.11, 0.12, 0.14, 1.0), parent=self)
        self.view = self.canvas.central_widget.add_view()
        self.reset_view()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas.native)

        self.floor = scene.visuals.Line(
            pos=floor_grid_segments(FLOOR_HEIGHT_M), connect="segments", color=(0.4, 0.42, 0.46, 1.0), parent=self.view.scene
        )
        self.meshes: dict[int, SkinnedMesh] = {}
        self.skeletons: dict[int, scene.visuals.Line] = {}
        self._bones = np.asarray(SKELETON_BONES, dtype=np.int64)
        for hand, color in HAND_COLORS.items():
            self.meshes[hand] = SkinnedMesh(self.view.scene, self._faces(hand), color)
            self.skeletons[hand] = scene.visuals.Line(connect="segments", color=(1, 1, 1, 1), width=2, parent=self.view.scene)
            self.skeletons[hand].set_gl_state(depth_test=False)
            self.skeletons[hand].order = 10

        session.pose_changed.connect(self._on_pose_changed)
        session.hand_model_changed.connect(self._on_hand_model_changed)
        session.layer_toggled.connect(self._on_layer_toggled)
        for hand in self.meshes:
            self._on_pose_changed(hand)
        for name, visible in session.visible_layers.items():
            self._on_layer_toggled(name, visible)

    def _faces(self, hand: int) -> np.ndarray:
        return fk.mesh_triangles(self.session.hand_model, hand).numpy()

    def reset_view(self) -> None:
        self.view.camera = scene.cameras.TurntableCamera(
            up="+y", fov=40.0, distance=0.9, elevation=15.0, azimuth=-90.0, center=(0.0, -0.02, 0.4)
        )

    def posed_geometry(self, hand: int) -> tuple[np.ndarray, np.ndarray]:
        """(V, 3) skinned vertices and (21, 3) landmarks of a hand, metres, world."""
        model = self.session.hand_model
        pose = self.session.poses[hand]
        with torch.no_grad():
            angles = pose.joint_angles.to(model.dtype)
            wrist = pose.T_world_from_wrist.to(model.dtype)
            vertices = fk.mesh_vertices(model, angles, wrist, hand).numpy()
            landmarks = fk.landmarks(model, angles, wrist, hand).numpy()
        return vertices, landmarks

    def _on_pose_changed(self, hand: int) -> None:
        vertices, landmarks = self.posed_geometry(hand)
        self.meshes[hand].set_vertices(vertices)
        self.skeletons[hand].set_data(pos=landmarks[self._bones].reshape(-1, 3).astype(np.float32), connect="segments")

    def _on_hand_model_changed(self, _model) -> None:
        for hand, mesh in self.meshes.items():
            mesh.set_faces(self._faces(hand))

    def _on_layer_toggled(self, name: str, visible: bool) -> None:
        targets = {"mesh": [m.visual for m in self.meshes.values()], "skeleton": list(self.skeletons.values()), "floor": [self.floor]}
        for visual in targets[name]:
            visual.visible = visible
        self.canvas.update()
