"""Triangle-mesh helpers shared by the renderer and the app's 3D view (numpy, batched)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import scipy.sparse

_INCIDENCE: OrderedDict[bytes, scipy.sparse.csr_matrix] = OrderedDict()
"""Vertex-face incidence matrices of the last few topologies (building one costs more than using it)."""


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals (not normalised: the shaders normalise).

    Args:
        vertices: (N, V, 3) float32. faces: (F, 3) outward winding.
    Returns:
        (N, V, 3) float32, pointing out of the surface.
    """
    count, num_vertices = vertices.shape[0], vertices.shape[1]
    key = faces.tobytes() + num_vertices.to_bytes(8, "little")
    incidence = _INCIDENCE.get(key)
    if incidence is None:  # (V, F): sums the normals of the faces around each vertex
        rows = faces.reshape(-1)
        cols = np.repeat(np.arange(len(faces)), 3)
        incidence = scipy.sparse.csr_matrix((np.ones(rows.size, np.float32), (rows, cols)), shape=(num_vertices, len(faces)))
        _INCIDENCE[key] = incidence
        while len(_INCIDENCE) > 8:
            _INCIDENCE.popitem(last=False)
    # Coordinate planes (N, V) keep every gather and product contiguous.
    x, y, z = np.ascontiguousarray(vertices.transpose(2, 0, 1))
    f0, f1, f2 = faces[:, 0], faces[:, 1], faces[:, 2]
    ax, ay, az = x[:, f1] - x[:, f0], y[:, f1] - y[:, f0], z[:, f1] - z[:, f0]
    bx, by, bz = x[:, f2] - x[:, f0], y[:, f2] - y[:, f0], z[:, f2] - z[:, f0]
    cross = np.concatenate([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx])  # (3N, F): twice the area, outward
    summed = incidence @ cross.T  # (V, 3N)
    return np.ascontiguousarray(summed.reshape(num_vertices, 3, count).transpose(2, 0, 1), dtype=np.float32)
