"""The 3D view's own vispy visuals: many parts of one kind drawn in one call.

Under software GL (llvmpipe) every visual drawn has a fixed cost of ~0.3-0.8 ms (vispy's Python draw
path plus a draw call; measured in a 480x104 view), and vispy's ``Mesh`` draws triangles unindexed through a shading filter
whose vertex shader walks the transform chain five times per vertex: one hand mesh (2,416 vertices,
~14,500 unindexed) took ~2.7 ms to draw in a 480x104 view. Here

* ``PartMeshVisual`` draws the skinned meshes of both hands indexed (each vertex shaded once), in
  one call, with a vertex colour per part;
* ``PartSegmentsVisual`` draws line segments of several parts (skeletons of both hands, GT and
  predicted; headset and crop-camera frusta) in one call, with a colour per part.

Parts are named by any sortable key; setting or removing one only marks the visual: the buffers are
rebuilt and uploaded once, when the next picture is drawn, however many parts changed in between.
Buffers keep their objects (only their contents change), so no shader is ever rebuilt.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
from vispy import scene
from vispy.gloo import IndexBuffer, VertexBuffer
from vispy.visuals import Visual

_MESH_VERTEX = """
attribute vec3 a_position;
attribute vec3 a_normal;
attribute vec4 a_color;
varying vec3 v_position;
varying vec3 v_normal;
varying vec4 v_color;
void main() {
    v_position = a_position;
    v_normal = a_normal;
    v_color = a_color;
    gl_Position = $transform(vec4(a_position, 1.0));
}
"""

# The lighting of vispy's ShadingFilter with its default coefficients (ambient 0.25, diffuse 0.7,
# Blinn-Phong specular 0.25 with shininess 100), so the hands look as they did with vispy's Mesh.
_MESH_FRAGMENT = """
varying vec3 v_position;
varying vec3 v_normal;
varying vec4 v_color;
uniform vec3 u_light_dir;
uniform vec3 u_eye;
void main() {
    vec3 normal = normalize(gl_FrontFacing ? v_normal : -v_normal);
    vec3 eye_vec = normalize(v_position - u_eye);
    float diffuse = max(dot(-u_light_dir, normal), 0.0);
    float specular = 0.0;
    if (diffuse > 0.0) {
        vec3 halfway = -normalize(u_light_dir + eye_vec);
        specular = pow(clamp(dot(halfway, normal), 0.0, 1.0), 100.0);
    }
    gl_FragColor = vec4(v_color.rgb * (0.25 + 0.7 * diffuse) + 0.25 * specular, v_color.a);
}
"""

_SEGMENTS_VERTEX = """
attribute vec3 a_position;
attribute vec4 a_color;
varying vec4 v_color;
void main() {
    v_color = a_color;
    gl_Position = $transform(vec4(a_position, 1.0));
}
"""

_SEGMENTS_FRAGMENT = """
varying vec4 v_color;
void main() {
    gl_FragColor = v_color;
}
"""


class _PartsVisual(Visual):
    """Named parts concatenated into one draw. Subclasses say how a part becomes buffer contents."""

    def __init__(self, vertex_shader: str, fragment_shader: str):
        super().__init__(vcode=vertex_shader, fcode=fragment_shader)
        self._parts: dict[Hashable, tuple[np.ndarray, ...]] = {}
        self._dirty = True
        self._redraw_requested = False
        """A redraw was asked for since the last picture drew this visual."""
        self._drawn: np.ndarray | None = None
        """(P, 3) the positions in the buffers, or None when nothing is drawn."""
        self._bounds: np.ndarray | None = None
        """(2, 3) min and max of ``_drawn``, computed when vispy asks (a camera's ``set_range``):
        NaN-aware reductions over every vertex cost ~0.5 ms a frame, and drawing never needs them."""

    def has(self, key: Hashable) -> bool:
        return key in self._parts

    def part(self, key: Hashable) -> tuple[np.ndarray, ...]:
        """The arrays a part is stored as: float32 copies of its positions (and normals or colours),
        then what else its kind keeps (a mesh: its faces and colour)."""
        return self._parts[key]

    def keys(self) -> list[Hashable]:
        return sorted(self._parts, key=repr)

    def remove(self, key: Hashable) -> None:
        if self._parts.pop(key, None) is not None:
            self._changed()

    def clear(self) -> None:
        if self._parts:
            self._parts.clear()
            self._changed()

    def _store(self, key: Hashable, arrays: tuple[np.ndarray, ...]) -> None:
        self._parts[key] = arrays
        self._changed()

    def _changed(self) -> None:
        # One redraw request per picture: a frame of playback changes up to 9 parts, and each of
        # vispy's update() calls walks the scene's event chain up to the canvas (~0.07 ms).
        if not self._redraw_requested:
            self._redraw_requested = True
            self.update()
        self._dirty = True

    @staticmethod
    def _prepare_transforms(view) -> None:
        view.view_program.vert["transform"] = view.transforms.get_transform()

    def _drawn_parts(self) -> tuple[list[tuple[np.ndarray, ...]], np.ndarray | None]:
        """The parts that draw something, in key order, and their (P, 3) positions one after the other
        (None when there are none). Every part's first array holds its positions."""
        parts = [part for part in (self._parts[key] for key in self.keys()) if len(part[0])]
        return parts, (_stacked([part[0] for part in parts]) if parts else None)

    def _prepare_draw(self, view):
        self._redraw_requested = False
        if self._dirty:
            parts, positions = self._drawn_parts()
            if positions is not None:
                self._upload(positions, parts)
            self._drawn, self._bounds = positions, None
            self._dirty = False
        return self._drawn is not None  # False: nothing to draw, vispy skips the call

    def _upload(self, positions: np.ndarray, parts: list[tuple[np.ndarray, ...]]) -> None:
        """Put the parts' (P, 3) positions, one after the other, and their other arrays into the buffers."""
        raise NotImplementedError

    def _compute_bounds(self, axis: int, view):
        if self._dirty:  # changed since the last picture: the parts as they are now
            positions = self._drawn_parts()[1]
            bounds = None if positions is None else _min_max(positions)
        else:
            if self._bounds is None and self._drawn is not None:
                self._bounds = _min_max(self._drawn)
            bounds = self._bounds
        return None if bounds is None else (float(bounds[0, axis]), float(bounds[1, axis]))


class PartMeshVisual(_PartsVisual):
    """Closed triangle meshes (a part each: one hand's skinned mesh), faces wound outwards, lit by
    one directional light, drawn indexed in one call. Each part's faces index its own vertices."""

    def __init__(self, light_direction=(-0.4, 0.6, 1.0)):
        super().__init__(_MESH_VERTEX, _MESH_FRAGMENT)
        self._positions, self._normals, self._colors = VertexBuffer(np.zeros((0, 3), np.float32)), VertexBuffer(np.zeros((0, 3), np.float32)), VertexBuffer(np.zeros((0, 4), np.float32))
        self._indices = IndexBuffer(np.zeros(0, np.uint32))
        self.shared_program["a_position"] = self._positions
        self.shared_program["a_normal"] = self._normals
        self.shared_program["a_color"] = self._colors
        light = np.asarray(light_direction, np.float64)  # the direction the light travels (vispy's convention)
        self.shared_program["u_light_dir"] = tuple(float(v) for v in light / np.linalg.norm(light))
        self.shared_program["u_eye"] = (0.0, 0.0, 0.0)
        self._draw_mode = "triangles"
        self._index_buffer = self._indices
        self._layout: list[tuple] = []
        """What the colour and index buffers hold: (vertex count, faces, colour) per part."""
        # Faces wound outwards (counter-clockwise seen from outside): the back faces of these closed
        # meshes are never seen, and culling them spares llvmpipe their triangle setup (~0.5 us each).
        self.set_gl_state("translucent", depth_test=True, cull_face=True)
        self.freeze()

    def set_part(self, key: Hashable, vertices: np.ndarray, normals: np.ndarray, faces: np.ndarray, rgba) -> None:
        """(V, 3) vertices and unit normals, (F, 3) faces into them, one RGBA colour."""
        vertices = np.asarray(vertices, np.float32)
        normals = np.asarray(normals, np.float32)
        if vertices.shape != normals.shape or vertices.ndim != 2 or vertices.shape[1] != 3:
            raise ValueError(f"vertices {vertices.shape} and normals {normals.shape} must both be (V, 3)")
        if not (isinstance(faces, np.ndarray) and faces.dtype == np.uint32 and faces.flags.c_contiguous):
            faces = np.ascontiguousarray(faces, np.uint32)
        self._store(key, (vertices.copy(), normals.copy(), faces, np.asarray(rgba, np.float32)))

    def rgba(self, key: Hashable) -> tuple[float, ...]:
        return tuple(float(v) for v in self._parts[key][3])

    def _upload(self, positions, parts) -> None:
        self._positions.set_data(positions)
        self._normals.set_data(_stacked([p[1] for p in parts]))
        # Colours and triangles change only with the set of parts (a hand appears, the model changes).
        layout = [(len(p[0]), p[2], p[3].tobytes()) for p in parts]  # holds the faces: compared by identity
        if len(layout) != len(self._layout) or any(n != m or f is not g or c != d for (n, f, c), (m, g, d) in zip(layout, self._layout)):
            self._layout = layout
            self._colors.set_data(_stacked([np.repeat(p[3][None], len(p[0]), axis=0) for p in parts]))
            offsets = np.cumsum([0] + [len(p[0]) for p in parts[:-1]])
            self._indices.set_data(_stacked([p[2].reshape(-1) + np.uint32(o) for p, o in zip(parts, offsets)]))

    def _prepare_draw(self, view):
        if not super()._prepare_draw(view):
            return False
        # The eye, for the specular highlight: the centre of the near plane mapped back to the scene.
        near = np.asarray(view.transforms.get_transform().imap([0.0, 0.0, -1.0, 1.0]), np.float64)
        if abs(near[3]) > 1e-12 and np.isfinite(near).all():
            self.shared_program["u_eye"] = tuple(float(v) for v in near[:3] / near[3])
        return True


class PartSegmentsVisual(_PartsVisual):
    """Line segments (a part each: a skeleton, a set of frusta) drawn in one call, a colour per
    vertex. Endpoints come in pairs."""

    def __init__(self, width: float = 1.0):
        super().__init__(_SEGMENTS_VERTEX, _SEGMENTS_FRAGMENT)
        self._positions, self._colors = VertexBuffer(np.zeros((0, 3), np.float32)), VertexBuffer(np.zeros((0, 4), np.float32))
        self.shared_program["a_position"] = self._positions
        self.shared_program["a_color"] = self._colors
        self._draw_mode = "lines"
        self.set_gl_state("translucent", line_width=width)
        self.freeze()

    def set_part(self, key: Hashable, segments: np.ndarray, rgba) -> None:
        """(2K, 3) segment endpoints; one RGBA colour, or (2K, 4) of them."""
        segments = np.asarray(segments, np.float32)
        if segments.ndim != 2 or segments.shape[1] != 3 or len(segments) % 2:
            raise ValueError(f"segment endpoints must be (2K, 3), got {segments.shape}")
        colors = np.broadcast_to(np.asarray(rgba, np.float32), (len(segments), 4))
        self._store(key, (segments.copy(), colors.copy()))

    def _upload(self, positions, parts) -> None:
        self._positions.set_data(positions)
        self._colors.set_data(_stacked([p[1] for p in parts]))


def _min_max(positions: np.ndarray) -> np.ndarray:
    """(2, 3) per-axis min and max of (P, 3) positions, NaN skipped."""
    return np.stack([np.nanmin(positions, 0), np.nanmax(positions, 0)])


def _stacked(arrays: list[np.ndarray]) -> np.ndarray:
    """The arrays one after the other, C-contiguous (what a GL buffer is given)."""
    return np.ascontiguousarray(np.concatenate(arrays))


PartMesh = scene.visuals.create_visual_node(PartMeshVisual)
PartSegments = scene.visuals.create_visual_node(PartSegmentsVisual)
