"""3D view (vispy): skinned GT and predicted hand meshes, skeletons, headset and crop-camera frusta
and a floor grid, orbit/pan/zoom.

Everything is drawn by three visuals (``scene_visuals``), each one draw call: the GT and predicted
meshes of both hands, every skeleton, and every frustum with the floor grid. Under software GL each
visual drawn has a fixed cost of ~0.3-0.8 ms (vispy's Python draw path and a draw call); in a large
view, filling pixels dominates instead. Their buffers are rewritten in place: under software GL vispy
recompiles a visual's shaders whenever its data is set anew.

The scene is rendered into the vispy canvas's framebuffer (a QOpenGLWidget kept out of the window)
and the picture is painted by a plain widget (``SceneImage``), at the panel's full size, once per
repaint that needs it. A QOpenGLWidget inside the main window turns on OpenGL composition of the
whole window: every repaint of any panel then composes the full 1920x1080 window through GL, which
under software GL (llvmpipe) cost ~90 ms a frame, far more than drawing the scene itself. Reading a
panel-sized picture back costs a fraction of a millisecond.
"""

from __future__ import annotations

import functools
import numpy as np
import shiboken6
import torch
from PySide6 import QtCore, QtGui, QtWidgets
from vispy import scene

from app.scene_visuals import PartMesh, PartSegments
from app.session import FrameChunks, Session
from app.style import hand_rgba
from app.visibility import ShownWatcher, on_screen
from umetrack.crop import CROP_SIZE, CropCamera
from umetrack.geometry import transform_points
from umetrack.hand import fk
from umetrack.hand.model import SKELETON_BONES
from umetrack.hand.simplify import simplified
from umetrack.mesh import vertex_normals

FLOOR_HEIGHT_M = -0.35
LIGHT_DIRECTION = (-0.4, 0.6, 1.0)
"""The direction the light travels: from behind the viewer's shoulder (vispy's default lights the far
side of the hands)."""
FLOOR_RGBA = (0.4, 0.42, 0.46, 1.0)
SKELETON_RGBA = (1.0, 1.0, 1.0, 1.0)
HEADSET_CAMERA_RGBA = (0.85, 0.85, 0.4, 1.0)
PREDICTION_MESH_RGBA = (0.93, 0.93, 0.96, 0.45)
"""Predicted hands: translucent white (as the views draw predictions white), GT stays in the hand colour."""
PREDICTION_SKELETON_RGBA = (1.0, 0.45, 0.8, 1.0)
DEFAULT_CROP_DEPTH_M = 0.4
MESH_CHUNK = 8
"""Frames of hand meshes skinned in one batched call."""


def unit_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(N, V, 3) unit vertex normals of (N, V, 3) vertices."""
    normals = vertex_normals(np.ascontiguousarray(vertices, dtype=np.float32), faces)
    return normals / np.maximum(np.linalg.norm(normals, axis=-1, keepdims=True), 1e-12)


def skinned_chunk(model, faces: np.ndarray, hand: int, angles: np.ndarray, wrists: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(K, 2, V, 3) float32 [vertices, unit normals] of K poses of a hand in one batched FK call,
    NaN where not ``present``."""
    out = np.full((len(present), 2, model.mesh_vertices.shape[0], 3), np.nan, np.float32)
    if present.any():
        with torch.no_grad():
            vertices = fk.mesh_vertices(model, torch.as_tensor(angles[present]).to(model.dtype),
                                        torch.as_tensor(wrists[present]).to(model.dtype), hand).numpy()  # fmt: skip
        out[present, 0] = vertices
        out[present, 1] = unit_normals(vertices, faces)
    return out


def gt_mesh_chunk(key: tuple, start: int, stop: int) -> np.ndarray:
    """(K, 2 hands, 2, V, 3): [vertices, unit normals] of the GT hands of frames start..stop-1, for
    ``key`` = (recording, hand model, left faces, right faces)."""
    recording, model, *faces = key
    gt = recording.gt
    return np.stack([skinned_chunk(model, faces[hand], hand, gt.joint_angles[start:stop, hand],
                                   gt.T_world_from_wrist[start:stop, hand], gt.confidence[start:stop, hand] > 0)
                     for hand in (0, 1)], axis=1)  # fmt: skip


def predicted_mesh_chunk(key: tuple, start: int, stop: int) -> np.ndarray:
    """(K, 2 hands, 2, V, 3): [vertices, unit normals] of the predicted hands of frames start..stop-1,
    for ``key`` = (tracking results, hand model, left faces, right faces)."""
    tracking, model, *faces = key
    angles, wrists = tracking.joint_angles[start:stop], tracking.T_world_from_wrist[start:stop]
    present = np.isfinite(tracking.landmarks[start:stop]).all((-1, -2)) & np.isfinite(angles).all(-1) & np.isfinite(wrists).all((-1, -2))
    return np.stack([skinned_chunk(model, faces[hand], hand, angles[:, hand], wrists[:, hand], present[:, hand])
                     for hand in (0, 1)], axis=1)  # fmt: skip


def crop_frusta_chunk(key: tuple, start: int, stop: int) -> np.ndarray:
    """(K, 2 hands, 2 slots, 16, 3) crop-camera pyramids of frames start..stop-1 of ``key`` =
    (tracking results,), the far rectangle at the predicted hand's mean depth in each crop (a default
    where there is none); NaN where a slot has no crop. One batched call for the chunk."""
    (tracking,) = key
    T_crop_from_world = torch.as_tensor(tracking.T_crop_from_world[start:stop], dtype=torch.float64)  # (K, 2, 2, 4, 4)
    used = torch.isfinite(T_crop_from_world).all(-1).all(-1) & torch.as_tensor(tracking.views[start:stop] >= 0)
    identity = torch.eye(4, dtype=torch.float64).expand_as(T_crop_from_world)
    crops = CropCamera(torch.where(used[..., None, None], T_crop_from_world, identity),  # inverted below: no NaN
                       torch.as_tensor(np.nan_to_num(tracking.focal[start:stop], nan=1.0), dtype=torch.float64), CROP_SIZE)  # fmt: skip
    landmarks = torch.as_tensor(tracking.landmarks[start:stop], dtype=torch.float64)[:, :, None]  # (K, 2, 1, 21, 3)
    depth = transform_points(crops.T_crop_from_world, landmarks)[..., 2].mean(-1)
    depth = torch.where(torch.isfinite(depth), depth, torch.full_like(depth, DEFAULT_CROP_DEPTH_M))
    segments = crop_frustum_segments(crops, depth)
    segments[~used.numpy()] = np.nan
    return segments


def floor_grid_segments(height: float, half_size: float = 1.0, step: float = 0.1) -> np.ndarray:
    """(2 * 2 * n, 3) line-segment endpoints of a square grid in the y = height plane."""
    ticks = np.arange(-half_size, half_size + 1e-9, step)
    segments = []
    for t in ticks:
        segments += [(t, height, -half_size), (t, height, half_size), (-half_size, height, t), (half_size, height, t)]
    return np.asarray(segments, dtype=np.float32)


@functools.lru_cache(maxsize=64)
def _frustum_tips(model, depth_m: float) -> torch.Tensor:
    """(4, 3) image-corner tips in the camera frame. Cached per camera model: unprojecting through
    fisheye distortion is iterative (~50 ms for 4 corners) and intrinsics do not change per frame."""
    corners = torch.tensor([[0.0, 0.0], [model.width - 1.0, 0.0], [model.width - 1.0, model.height - 1.0], [0.0, model.height - 1.0]], dtype=torch.float64)
    rays, valid = model.unproject(corners)
    # Fisheye corners can lie beyond the lens' usable angle; fall back to a 120-degree pyramid there.
    fallback = torch.tensor([[-1.0, -0.75, 0.6], [1.0, -0.75, 0.6], [1.0, 0.75, 0.6], [-1.0, 0.75, 0.6]], dtype=torch.float64)
    rays = torch.where(valid[:, None], rays, fallback / fallback.norm(dim=1, keepdim=True))
    return rays / rays[:, 2:3].clamp_min(0.2) * depth_m


def frustum_segments(camera, depth_m: float = 0.06) -> np.ndarray:
    """(16, 3) line-segment endpoints of a camera's image-corner pyramid, world metres."""
    return posed_frustum_segments([camera.model], np.asarray(camera.T_world_from_camera, np.float64)[None], depth_m)[0]


_FRUSTUM_ORDER = np.array([[0, 1, 1, 2], [0, 2, 2, 3], [0, 3, 3, 4], [0, 4, 4, 1]]).reshape(-1)
"""Origin-to-corner edge and corner-to-next-corner edge for each of the 4 corners (0 = origin)."""


def posed_frustum_segments(models, T_world_from_camera: np.ndarray, depth_m: float = 0.06) -> np.ndarray:
    """(C, 16, 3) ``frustum_segments`` of C cameras from their models and (C, 4, 4) poses, in one
    batched numpy expression (no per-frame ``Camera``)."""
    tips = np.stack([_frustum_tips(model, depth_m).numpy() for model in models])  # (C, 4, 3), cached
    rotations, origins = T_world_from_camera[:, :3, :3], T_world_from_camera[:, None, :3, 3]
    points = np.concatenate([origins, tips @ rotations.transpose(0, 2, 1) + origins], axis=1)  # (C, 5, 3)
    return points[:, _FRUSTUM_ORDER].astype(np.float32)


def crop_frustum_segments(crops: CropCamera, depth_m: float | torch.Tensor) -> np.ndarray:
    """(..., 16, 3) line-segment endpoints of each crop camera's pyramid, world metres: from its
    centre (the source camera's) to its image corners at ``depth_m`` (float or (...,)) along its axis
    (the hand's depth, so the far rectangle frames what the network saw). One batched call for all
    crops of a frame. Right-hand crops are mirrored; the inverse undoes it."""
    last = crops.size - 1.0
    corners = torch.tensor([[0.0, 0.0], [last, 0.0], [last, last], [0.0, last]], dtype=crops.focal.dtype)
    rays = crops.unproject(corners.expand(*crops.focal.shape, 4, 2))  # (..., 4, 3)
    depth = torch.as_tensor(depth_m, dtype=rays.dtype)[..., None, None]
    T_world_from_crop = crops.T_world_from_crop
    world = transform_points(T_world_from_crop, rays / rays[..., 2:3] * depth)  # (..., 4, 3)
    points = torch.cat([T_world_from_crop[..., None, :3, 3], world], dim=-2)  # (..., 5, 3): origin, corners
    return points[..., _FRUSTUM_ORDER, :].numpy().astype(np.float32)


class OffscreenSceneCanvas(scene.SceneCanvas):
    """A SceneCanvas whose QOpenGLWidget is never shown: ``on_change`` hears every redraw request
    (data changes, camera moves) instead, and ``render_image`` draws the scene into the widget's
    framebuffer and returns it as a QImage."""

    def __init__(self, on_change, **kwargs):
        self._on_change = None
        super().__init__(show=False, autoswap=False, **kwargs)  # it draws into an FBO: nothing to swap
        self.native.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen)
        self._on_change = on_change

    def update(self, node=None) -> None:
        super().update(node)  # a no-op on the hidden widget; kept for vispy's bookkeeping
        if self._on_change is not None:
            self._on_change()

    def set_size(self, width: int, height: int) -> None:
        """Resize the framebuffer and the scene's viewport (a hidden widget gets no resize events)."""
        native = self.native
        old = native.size()
        native.resize(width, height)
        QtCore.QCoreApplication.sendEvent(native, QtGui.QResizeEvent(native.size(), old))

    def render_image(self) -> QtGui.QImage:
        return self.native.grabFramebuffer()


def close_canvas(canvas: OffscreenSceneCanvas) -> None:
    """Delete the canvas's Qt objects now, on the GUI thread. Nothing else owns them (no parent), and
    vispy's reference cycles would leave them to Python's garbage collector, which may run in any
    thread: Qt aborts when a widget or GL context is deleted outside the GUI thread."""
    canvas._on_change = None
    native = canvas.native
    owned = [getattr(native, name, None) for name in ("_secondary_context", "_surface")]
    for qt_object in (native, *owned):
        if qt_object is not None and shiboken6.isValid(qt_object):
            shiboken6.delete(qt_object)


class SceneImage(QtWidgets.QWidget):
    """Shows the offscreen canvas's picture at the widget's size, rendered anew only after a change,
    and hands mouse input to the canvas (orbit, pan, zoom)."""

    def __init__(self, canvas: OffscreenSceneCanvas, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.canvas = canvas
        self.image: QtGui.QImage | None = None
        self.stale = True
        self.renders = 0
        """Pictures rendered so far (one per repaint after a change; none while hidden)."""
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.WheelFocus)
        self.setMinimumSize(32, 32)

    def invalidate(self) -> None:
        self.stale = True
        self.update()  # Qt drops it while hidden; showing the widget paints it anyway

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(800, 600)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        self.stale = True
        super().resizeEvent(event)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        if self.width() <= 0 or self.height() <= 0:
            return
        if self.stale or self.image is None:
            if self.canvas.native.size() != self.size():
                self.canvas.set_size(self.width(), self.height())
            self.image = self.canvas.render_image()
            self.stale = False
            self.renders += 1
        painter = QtGui.QPainter(self)
        painter.drawImage(self.rect(), self.image)
        painter.end()

    def mousePressEvent(self, event) -> None:
        self.canvas.native.mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        self.canvas.native.mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        self.canvas.native.mouseDoubleClickEvent(event)

    def mouseMoveEvent(self, event) -> None:
        self.canvas.native.mouseMoveEvent(event)

    def wheelEvent(self, event) -> None:
        self.canvas.native.wheelEvent(event)


class Scene3DPanel(QtWidgets.QWidget):
    """Observes the session's poses, hand model and layer toggles."""

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("scene3d")
        self.session = session
        self.canvas = OffscreenSceneCanvas(lambda: self.display.invalidate(), keys=None, bgcolor=(0.11, 0.12, 0.14, 1.0))
        self.display = SceneImage(self.canvas)
        self.view = self.canvas.central_widget.add_view()
        self.reset_view()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.display)
        # The canvas's widget has no parent (a child would bring the window's GL composition back):
        # it goes with the panel.
        canvas = self.canvas
        self.destroyed.connect(lambda *_: close_canvas(canvas))

        self.lines = PartSegments(parent=self.view.scene)
        """Parts "floor" (the grid), "headset" (the recording's cameras) and "crops" (the crop cameras
        of the frame)."""
        self._floor_grid = floor_grid_segments(FLOOR_HEIGHT_M)
        self.display_model = simplified(session.hand_model)
        """The session's hand model with the simplified mesh the view draws (``umetrack.hand.simplify``:
        the released mesh's 1,544 triangles instead of the project model's 4,828, within ~2 mm of it)."""
        self.faces = {hand: self._faces(hand) for hand in (0, 1)}
        """(F, 3) display-mesh triangles of each hand (the right hand's are wound the other way)."""
        self._bones = np.asarray(SKELETON_BONES, dtype=np.int64)
        self.meshes = PartMesh(light_direction=LIGHT_DIRECTION, parent=self.view.scene)
        """Parts ("gt", hand), in the hand's colour, and ("prediction", hand), translucent white. Parts
        are drawn in key order, the opaque GT hands first, so the GT shows through the predictions."""
        self.meshes.order = 5  # after the lines: the translucent predictions blend over everything opaque
        self.skeletons = PartSegments(width=2, parent=self.view.scene)
        """Parts ("gt", hand) and ("prediction", hand): drawn over the meshes."""
        self.skeletons.update_gl_state(depth_test=False)
        self.skeletons.order = 10
        self.crop_frusta_count = 0
        """Crop cameras drawn for the current frame (one pyramid each, in its hand's colour)."""

        # Skinning scales with the vertices (unlike landmarks and projections, where per-call overhead
        # dominates): short chunks keep a seek to a frame not cached cheap. In playback the next chunk
        # is skinned in the background (~13 ms for 8 frames of both hands).
        self._gt_meshes = FrameChunks(gt_mesh_chunk, size=MESH_CHUNK, prefetch=True)
        """Keyed (recording, hand model, left faces, right faces)."""
        self._predicted_meshes = FrameChunks(predicted_mesh_chunk, size=MESH_CHUNK, prefetch=True)
        """Keyed (tracking results, hand model, left faces, right faces)."""
        self._crop_frusta = FrameChunks(crop_frusta_chunk, prefetch=True)
        """Keyed (tracking results,)."""
        self._pending: set[tuple] = set()
        """Parts of the scene not brought up to the session's state while the panel was off screen
        (a dock tabbed away or closed): ("pose", hand), ("cameras",), ("prediction",)."""
        self.shown_watcher = ShownWatcher(self, self.catch_up)

        session.pose_changed.connect(self._on_pose_changed)
        session.hand_model_changed.connect(self._on_hand_model_changed)
        session.layer_toggled.connect(self._on_layer_toggled)
        session.recording_changed.connect(self._on_recording_changed)
        session.playhead_changed.connect(self._on_playhead_changed)
        session.tracking_changed.connect(lambda _results: self._update_prediction())
        for hand in (0, 1):
            self._on_pose_changed(hand)
        for name, visible in session.visible_layers.items():
            self._on_layer_toggled(name, visible)

    # -- work only while on screen ---------------------------------------------------------------

    def _deferred(self, part: tuple) -> bool:
        """True when the panel is not on screen (hidden, or its dock tabbed away): the part is
        remembered and brought up to date when the panel comes back, so a 3D view nobody sees costs
        nothing per frame."""
        if on_screen(self):
            return False
        self._pending.add(part)
        return True

    def catch_up(self) -> None:
        """Bring every part left behind while hidden up to the session's state."""
        pending, self._pending = self._pending, set()
        for part in sorted(pending):
            if part[0] == "pose":
                self._on_pose_changed(part[1])
            elif part[0] == "cameras":
                self._update_cameras()
            else:
                self._update_prediction()

    def _faces(self, hand: int) -> np.ndarray:
        return np.ascontiguousarray(fk.mesh_triangles(self.display_model, hand).numpy(), np.uint32)

    def reset_view(self) -> None:
        self.view.camera = scene.cameras.TurntableCamera(
            up="+y", fov=40.0, distance=0.9, elevation=15.0, azimuth=-90.0, center=(0.0, -0.02, 0.4)
        )

    def posed_geometry(self, hand: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(V, 3) skinned vertices and (21, 3) landmarks of a displayed hand (metres, world), or None."""
        return None if (geometry := self._posed(hand)) is None else geometry[:2]

    def _posed(self, hand: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
        """``posed_geometry`` and the vertices' unit normals (None: not computed yet). A recording's
        GT meshes are skinned ``MESH_CHUNK`` frames at a time (one batched FK call)."""
        session = self.session
        model = self.display_model
        pose = session.displayed_pose(hand)
        if pose is None:
            return None
        # The session's landmarks of the same pose (FK once per frame, shared with the views).
        landmarks = session.displayed_landmarks(hand)
        if session.follows_recording:
            key = (session.recording, model, self.faces[0], self.faces[1])
            chunk = self._gt_meshes.get(key, session.playhead, session.num_frames)
            return chunk[hand, 0], landmarks, chunk[hand, 1]
        with torch.no_grad():
            vertices = fk.mesh_vertices(model, pose.joint_angles.to(model.dtype), pose.T_world_from_wrist.to(model.dtype), hand).numpy()
        return vertices, landmarks, None

    def _on_pose_changed(self, hand: int) -> None:
        if self._deferred(("pose", hand)):
            return
        geometry = self._posed(hand)
        layers = self.session.visible_layers
        if geometry is None or not layers["mesh"]:
            self.meshes.remove(("gt", hand))
        if geometry is None or not layers["skeleton"]:
            self.skeletons.remove(("gt", hand))
        if geometry is None:
            return
        vertices, landmarks, normals = geometry
        if layers["mesh"]:
            if normals is None:
                normals = unit_normals(vertices[None], self.faces[hand])[0]
            self.meshes.set_part(("gt", hand), vertices, normals, self.faces[hand], hand_rgba(hand))
        if layers["skeleton"]:
            self.skeletons.set_part(("gt", hand), landmarks[self._bones].reshape(-1, 3), SKELETON_RGBA)

    def _on_hand_model_changed(self, model) -> None:
        self.display_model = simplified(model)
        self.faces = {hand: self._faces(hand) for hand in (0, 1)}
        for hand in (0, 1):
            self._on_pose_changed(hand)
        self._update_prediction()

    def predicted_geometry(self, hand: int) -> tuple[np.ndarray | None, np.ndarray] | None:
        """(V, 3) skinned vertices (None when the results carry no poses) and (21, 3) landmarks of the
        tracker's prediction for a hand at the playhead, or None where it has none."""
        geometry = self._predicted(hand)
        return None if geometry is None else geometry[:2]

    def _predicted(self, hand: int) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None] | None:
        """``predicted_geometry`` and the vertices' unit normals (skinned ``MESH_CHUNK`` frames at a time)."""
        tracking, frame = self.session.tracking, self.session.playhead
        if tracking is None or frame >= tracking.num_frames or not np.isfinite(tracking.landmarks[frame, hand]).all():
            return None
        vertices = normals = None
        if tracking.joint_angles is not None and np.isfinite(tracking.joint_angles[frame, hand]).all():
            key = (tracking, self.display_model, self.faces[0], self.faces[1])
            chunk = self._predicted_meshes.get(key, frame, tracking.num_frames)[hand]
            if np.isfinite(chunk[0]).all():
                vertices, normals = chunk
        return vertices, tracking.landmarks[frame, hand].astype(np.float32), normals

    def _update_prediction(self) -> None:
        """Predicted meshes and skeletons, and the crop cameras of the playhead's frame."""
        if self._deferred(("prediction",)):
            return
        show = self.session.visible_layers["prediction"]
        for hand in (0, 1):
            geometry = self._predicted(hand) if show else None
            vertices, landmarks, normals = geometry if geometry is not None else (None, None, None)
            if vertices is None:
                self.meshes.remove(("prediction", hand))
            else:
                self.meshes.set_part(("prediction", hand), vertices, normals, self.faces[hand], PREDICTION_MESH_RGBA)
            if landmarks is None:
                self.skeletons.remove(("prediction", hand))
            else:
                self.skeletons.set_part(("prediction", hand), landmarks[self._bones].reshape(-1, 3), PREDICTION_SKELETON_RGBA)
        self._update_crop_frusta()

    def _update_crop_frusta(self) -> None:
        tracking, frame = self.session.tracking, self.session.playhead
        hands, slots = np.zeros(0, np.int64), np.zeros(0, np.int64)
        if tracking is not None and frame < tracking.num_frames and self.session.visible_layers["cameras"]:
            hands, slots = np.nonzero(tracking.views[frame] >= 0)
        self.crop_frusta_count = len(hands)
        if not len(hands):
            self.lines.remove("crops")
            return
        segments = self._crop_frusta.get((tracking,), frame, tracking.num_frames)[hands, slots]  # (K, 16, 3)
        colours = np.repeat(np.asarray([hand_rgba(int(hand)) for hand in hands], np.float32), segments.shape[1], axis=0)
        self.lines.set_part("crops", segments.reshape(-1, 3), colours)

    def _on_layer_toggled(self, name: str, visible: bool) -> None:
        if name in ("mesh", "skeleton"):
            for hand in (0, 1):
                self._on_pose_changed(hand)
        elif name == "prediction":
            self._update_prediction()
        elif name == "cameras":
            self._update_cameras()
            self._update_prediction()
        elif name == "floor":
            self._update_floor()

    def _on_recording_changed(self, recording) -> None:
        """Frame the scene around the headset of the first tracked frame, floor 1 m below it."""
        self.reset_view()
        cameras = self._first_tracked_cameras(recording)
        if cameras is None:
            self._floor_grid = floor_grid_segments(FLOOR_HEIGHT_M)
            self._update_floor()
            self._on_playhead_changed(self.session.playhead)
            return
        head = np.mean([c.T_world_from_camera[:3, 3].numpy() for c in cameras], axis=0)
        forward = np.mean([c.T_world_from_camera[:3, 2].numpy() for c in cameras], axis=0)
        forward = forward / max(np.linalg.norm(forward), 1e-9)
        target = head + 0.35 * forward
        self.view.camera.center = tuple(float(v) for v in target)
        # Look over the user's shoulder: along the headset's forward direction, from above.
        self.view.camera.azimuth = float(np.degrees(np.arctan2(forward[0], forward[2]))) - 90.0
        grid = floor_grid_segments(float(head[1]) - 1.0, half_size=1.5)
        grid[:, [0, 2]] += head[[0, 2]].astype(np.float32)
        self._floor_grid = grid
        self._update_floor()
        self._on_playhead_changed(self.session.playhead)

    @staticmethod
    def _first_tracked_cameras(recording):
        if recording is None:
            return None
        tracked = np.flatnonzero(recording.headset_tracked)
        return recording.cameras(int(tracked[0])) if len(tracked) else None

    def _on_playhead_changed(self, _frame: int) -> None:
        self._update_cameras()
        self._update_prediction()

    def _update_floor(self) -> None:
        if self.session.visible_layers["floor"]:
            self.lines.set_part("floor", self._floor_grid, FLOOR_RGBA)
        else:
            self.lines.remove("floor")

    def _update_cameras(self) -> None:
        """The headset's camera frusta at the playhead."""
        if self._deferred(("cameras",)):
            return
        recording, frame = self.session.recording, self.session.playhead
        tracked = recording is not None and bool(recording.headset_tracked[frame])  # else no camera poses
        if not tracked or not self.session.visible_layers["cameras"]:
            self.lines.remove("headset")
            return
        segments = posed_frustum_segments(recording.camera_models, np.asarray(recording.T_world_from_camera[frame], np.float64))
        self.lines.set_part("headset", segments.reshape(-1, 3), HEADSET_CAMERA_RGBA)
