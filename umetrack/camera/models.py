"""Camera models: intrinsics + lens distortion (``CameraModel``) and posed cameras (``Camera``).

Everything is torch, batched over any leading shape ``...`` and differentiable; numpy input is
accepted (converted with ``torch.as_tensor``) and torch is returned. Conventions (cameras.md §1):

* eye frame: +x right, +y down, +z forward; lengths in metres;
* pixel (0, 0) is the *centre* of the top-left pixel, so an image spans -0.5 .. W-0.5 and its
  centre is ((W-1)/2, (H-1)/2);
* extrinsics are stored camera -> world (``T_world_from_camera``).

A model maps an eye point to *normalised* coordinates p (perspective: p = (x, y)/z; fisheye:
arctan projection, |p| = angle from the optical axis), distorts them, q = distort(p), and ends
with pixels = (fx qx + cx, fy qy + cy).

Kinds and their coefficient tuples (``CameraModel.distortion``, in this order):

================  ====================================================  ============================
kind              coefficients                                          projection, distortion
================  ====================================================  ============================
pinhole           ()                                                    perspective, none
opencv            k1, k2, k3, p1, p2                                    perspective, OpenCV radial-tangential
rational          k1, k2, k3, p1, p2, k4, k5, k6                        perspective, OpenCV rational
fisheye62         k1, k2, k3, k4, p1, p2, k5, k6                        arctan, UmeTrack FishEye62
fisheye624        k1..k6, p1, p2, s1..s4                                arctan, FishEye624 (Aria FisheyeRadTanThinPrism)
oculus_fisheye    k1, k2, k3, k4, p1, p2, p3, p4                        arctan, toolkit ``OculusVisionFishEye``
================  ====================================================  ============================

The fisheye62 order (k5, k6 after the tangential terms) is the one of UmeTrack's and the toolkit's
code and of the challenge's ``projection_params``; opencv/rational are the toolkit's orders (note
cv2's own vector is (k1, k2, p1, p2, k3, k4, k5, k6)).

Formulas (q = (xd, yd) from normalised p = (x, y)):

* opencv / rational (standard OpenCV, r^2 = x^2 + y^2 of the undistorted point):
  radial = 1 + k1 r^2 + k2 r^4 + k3 r^6 (rational: divided by 1 + k4 r^2 + k5 r^4 + k6 r^6);
  xd = x radial + 2 p1 x y + p2 (r^2 + 2 x^2);  yd = y radial + p1 (r^2 + 2 y^2) + 2 p2 x y.
* fisheye62 / fisheye624: cameras.md §3 exactly (rho^2 clamped to pi^2, radial k1..k6, tangential
  with s^2 of the radially distorted point and p1/p2 in the *Oculus* roles
  xd = xr + 2 p2 xr yr + p1 (s^2 + 2 xr^2), thin prism s1..s4 for 624). Equal to Aria's
  FisheyeRadTanThinPrism with (k0..k5, p0, p1, s0..s3) -> (k1..k6, p1, p2, s1..s4).
* oculus_fisheye (challenge ``OculusVisionFishEye``): cameras.md gives no formula; this is
  facebookresearch/hand_tracking_toolkit ``camera_distortion.OVR44Distortion``: radial
  1 + k1 rho^2 + ... + k4 rho^8 (Kannala-Brandt theta_d = theta (1 + k1 theta^2 + ... + k4 theta^8),
  no clamp), then with s^2 of the radially distorted point
  xd = xr + (2 p1 xr yr + p2 (s^2 + 2 xr^2)) (1 + p3 s^2 + p4 s^4),
  yd = yr + (2 p2 xr yr + p1 (s^2 + 2 yr^2)) (1 + p3 s^2 + p4 s^4)
  (OpenCV tangential roles, unlike fisheye62/624). Not checked against Oculus' own C++ or data.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np
import torch

from umetrack.errors import InvalidCameraError, InvalidPoseError
from umetrack.geometry import check_rigid, invert_rigid, transform_points

COEFFICIENT_NAMES: dict[str, tuple[str, ...]] = {
    "pinhole": (),
    "opencv": ("k1", "k2", "k3", "p1", "p2"),
    "rational": ("k1", "k2", "k3", "p1", "p2", "k4", "k5", "k6"),
    "fisheye62": ("k1", "k2", "k3", "k4", "p1", "p2", "k5", "k6"),
    "fisheye624": ("k1", "k2", "k3", "k4", "k5", "k6", "p1", "p2", "s1", "s2", "s3", "s4"),
    "oculus_fisheye": ("k1", "k2", "k3", "k4", "p1", "p2", "p3", "p4"),
}
"""Coefficient names of each kind, in the order of ``CameraModel.distortion``."""

FISHEYE_KINDS = frozenset({"fisheye62", "fisheye624", "oculus_fisheye"})
"""Kinds that use the arctan (equidistant) projection; the others are perspective."""

MIN_DEPTH_M = 1e-6
"""Perspective models: a point projects only if its eye z exceeds this (metres); closer to the
camera plane x/z blows up, and no real scene point is within a micrometre of the lens."""

_ARCTAN_GUARD = 2.0**-128
"""cameras.md §3: (u, v) = (x, y) * theta / max(r, 2^-128)."""
_TAYLOR_RATIO = 1e-4
"""Fisheye: when r < 1e-4 z, theta/r = (1 - t^2/3)/z with t = r/z (error ~ t^4/5 = 2e-17), which keeps
the value exact and the gradient finite on the optical axis, where d sqrt(r^2) is infinite."""
_MONOTONIC_SAMPLES = 20001
_PERSPECTIVE_SEARCH_MAX = 0.999 * math.pi / 2
_NEWTON_MAX_ITERATIONS = 50
_NEWTON_TOLERANCE_PX = 1e-8
_MIN_JACOBIAN_DET = 1e-12


def _as_float_tensor(x: Any) -> torch.Tensor:
    t = torch.as_tensor(x)
    return t if t.is_floating_point() else t.to(torch.get_default_dtype())


@dataclass(frozen=True)
class CameraModel:
    """Intrinsics and distortion of one camera (no pose).

    Attributes:
        kind: one of ``COEFFICIENT_NAMES`` (see the module docstring for the formulas).
        width, height: image size in pixels.
        fx, fy: focal lengths in pixels (> 0).
        cx, cy: principal point in pixels (pixel-centre convention).
        distortion: coefficients in the order ``COEFFICIENT_NAMES[kind]``.
        max_angle: derived, radians: the largest angle between a ray and the optical axis that the
            model maps one-to-one. It is where the radial map (angle -> distorted radius) stops
            increasing, searched over (0, pi] for fisheye kinds and (0, 0.999 pi/2) for distorted
            perspective kinds; pi (fisheye) or pi/2 (perspective) when it never stops. Beyond it
            several rays share a pixel, so ``project`` reports rays at angle >= max_angle invalid
            and ``unproject`` never returns them. Tangential / thin-prism terms (~1e-3) are ignored
            in this search. Real HOT3D Quest 3 SLAM lenses fold at ~90 deg.

    Raises:
        InvalidCameraError: unknown kind, non-integer or non-positive size, non-finite or
            non-positive focal length, non-finite principal point or coefficient, wrong number of
            coefficients.
    """

    kind: str
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    distortion: tuple[float, ...] = ()
    max_angle: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in COEFFICIENT_NAMES:
            raise InvalidCameraError(f"unknown camera kind {self.kind!r}; expected one of {sorted(COEFFICIENT_NAMES)}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise InvalidCameraError(f"{self.kind} camera: {name} must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        for name in ("fx", "fy", "cx", "cy"):
            try:
                value = float(getattr(self, name))
            except (TypeError, ValueError):
                raise InvalidCameraError(f"{self.kind} camera: {name} must be a number, got {getattr(self, name)!r}") from None
            if not math.isfinite(value):
                raise InvalidCameraError(f"{self.kind} camera: {name} is not finite ({value})")
            if name in ("fx", "fy") and value <= 0.0:
                raise InvalidCameraError(f"{self.kind} camera: focal length {name} must be positive, got {value}")
            object.__setattr__(self, name, value)
        try:
            coefficients = tuple(float(c) for c in np.asarray(self.distortion, dtype=np.float64).reshape(-1))
        except (TypeError, ValueError):
            raise InvalidCameraError(f"{self.kind} camera: distortion must be a sequence of numbers, got {self.distortion!r}") from None
        names = COEFFICIENT_NAMES[self.kind]
        if len(coefficients) != len(names):
            raise InvalidCameraError(
                f"{self.kind} camera: expected {len(names)} distortion coefficients ({', '.join(names) or 'none'}), "
                f"got {len(coefficients)}"
            )
        bad = [n for n, c in zip(names, coefficients) if not math.isfinite(c)]
        if bad:
            raise InvalidCameraError(f"{self.kind} camera: distortion coefficient(s) {', '.join(bad)} not finite")
        object.__setattr__(self, "distortion", coefficients)
        object.__setattr__(self, "max_angle", self._radial_limit())

    # ----------------------------------------------------------------------------------------
    # Properties

    @property
    def is_fisheye(self) -> bool:
        """True for the arctan-projection kinds (``FISHEYE_KINDS``)."""
        return self.kind in FISHEYE_KINDS

    @property
    def coefficients(self) -> dict[str, float]:
        """The distortion coefficients by name."""
        return dict(zip(COEFFICIENT_NAMES[self.kind], self.distortion))

    @property
    def K(self) -> torch.Tensor:
        """(3, 3) float64 intrinsic matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] (cast with ``.to(x)``)."""
        return torch.tensor([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]], dtype=torch.float64)

    # ----------------------------------------------------------------------------------------
    # Projection

    def project(self, points_eye: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Eye-frame points to pixels.

        Args:
            points_eye: (..., 3) metres, eye frame; float32 or float64 (other input becomes the
                default dtype).
        Returns:
            pixels: (..., 2) same dtype; finite but meaningless where ``valid`` is False.
            valid: (...,) bool, the projection is well defined: perspective kinds need
                z > ``MIN_DEPTH_M`` and the ray less than ``max_angle`` from the axis; fisheye
                kinds need a point other than the eye centre whose ray is less than ``max_angle``
                from the axis (so points behind the camera are valid when the lens model reaches
                them; straight behind never is). Image bounds are NOT tested (see ``in_image``).
        """
        return _project(self, _as_float_tensor(points_eye))

    def unproject(self, pixels: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixels to unit rays in the eye frame.

        Pinhole is closed form. Distorted kinds invert the distortion by Newton's method in float64
        (start at the distorted point, exact Jacobian by autograd, iterates kept within
        ``max_angle``); a pixel is valid when the reprojection residual falls below 1e-8 px within
        50 iterations and the ray lies within ``max_angle``. Pixels outside the lens's image circle
        (e.g. fisheye corners) are invalid. Differentiable w.r.t. ``pixels`` through one implicit
        Newton step (d ray / d pixel uses the inverse distortion Jacobian).

        Args:
            pixels: (..., 2) pixel coordinates.
        Returns:
            rays: (..., 3) unit vectors, same dtype as ``pixels``; meaningless where not valid.
            valid: (...,) bool.
        """
        pixels = _as_float_tensor(pixels)
        dtype = pixels.dtype
        scale = torch.tensor([self.fx, self.fy], dtype=torch.float64, device=pixels.device)
        centre = torch.tensor([self.cx, self.cy], dtype=torch.float64, device=pixels.device)
        target = (pixels.to(torch.float64) - centre) / scale
        if self.kind == "pinhole":
            normalised, valid = target, torch.isfinite(target).all(-1)
        else:
            solution, valid = self._undistort(target.detach(), scale)
            if target.requires_grad:
                # Implicit function theorem: p = p* - J^-1 (distort(p*) - q) has the value p* and
                # d p / d q = J^-1, while p* itself came from detached iterations.
                jacobian = self._distortion_jacobian(solution)
                residual = self._distort(solution) - target
                solution = solution - _solve_2x2(jacobian, residual)
            normalised = solution
        if self.is_fisheye:
            rho2 = (normalised * normalised).sum(-1)
            small = rho2 < 1e-12
            rho = torch.sqrt(torch.where(small, torch.ones_like(rho2), rho2))
            sin_by_rho = torch.where(small, 1.0 - rho2 / 6.0, torch.sin(rho) / rho)
            cos_rho = torch.where(small, 1.0 - rho2 / 2.0, torch.cos(rho))
            rays = torch.cat([normalised * sin_by_rho[..., None], cos_rho[..., None]], -1)
        else:
            rays = torch.cat([normalised, torch.ones_like(normalised[..., :1])], -1)
            rays = rays / rays.norm(dim=-1, keepdim=True)
        return rays.to(dtype), valid

    def in_image(self, pixels: Any) -> torch.Tensor:
        """UmeTrack's image test: 0 <= u <= W-1 and 0 <= v <= H-1 (pixel centres inside the image).

        Args:
            pixels: (..., 2). Returns: (...,) bool.
        """
        return _in_image(self, _as_float_tensor(pixels))

    # ----------------------------------------------------------------------------------------
    # Derived models

    def scaled(self, factor: float) -> CameraModel:
        """The model of the image resized by ``factor``: f' = f s, c' = (c + 0.5) s - 0.5.

        Raises InvalidCameraError unless W s and H s are whole numbers.
        """
        width, height = self.width * factor, self.height * factor
        if abs(width - round(width)) > 1e-9 or abs(height - round(height)) > 1e-9 or factor <= 0:
            raise InvalidCameraError(f"scaling {self.width}x{self.height} by {factor} does not give a whole-pixel image")
        return replace(
            self,
            width=int(round(width)),
            height=int(round(height)),
            fx=self.fx * factor,
            fy=self.fy * factor,
            cx=(self.cx + 0.5) * factor - 0.5,
            cy=(self.cy + 0.5) * factor - 0.5,
        )

    def cropped(self, x0: int, y0: int, width: int, height: int) -> CameraModel:
        """The model of the sub-image whose top-left pixel is (x0, y0) of this image: c' = c - (x0, y0)."""
        return replace(self, width=width, height=height, cx=self.cx - x0, cy=self.cy - y0)

    # ----------------------------------------------------------------------------------------
    # Internals

    def _radial(self, rho2: torch.Tensor | np.ndarray):
        return _radial(self, rho2)

    def _distort(self, p: torch.Tensor) -> torch.Tensor:
        return _distort(self, p)

    def _radial_limit(self) -> float:
        """``max_angle``: first angle where the distorted radius stops increasing (float64 search)."""
        if self.kind == "pinhole":
            return math.pi / 2
        top = math.pi if self.is_fisheye else _PERSPECTIVE_SEARCH_MAX
        angles = np.linspace(0.0, top, _MONOTONIC_SAMPLES)
        radius = angles if self.is_fisheye else np.tan(angles)
        with np.errstate(all="ignore"):
            distorted = radius * self._radial(radius * radius)
            rising = np.isfinite(distorted[1:]) & (np.diff(distorted) > 0)
        if rising.all():
            return math.pi if self.is_fisheye else math.pi / 2
        return float(angles[int(np.argmin(rising))])

    def _distortion_jacobian(self, p: torch.Tensor) -> torch.Tensor:
        """(..., 2, 2) d distort / d p at detached points (rows: output x, y)."""
        with torch.enable_grad():
            p = p.detach().requires_grad_(True)
            d = self._distort(p)
            row_x = torch.autograd.grad(d[..., 0].sum(), p, retain_graph=True)[0]
            row_y = torch.autograd.grad(d[..., 1].sum(), p)[0]
        return torch.stack([row_x, row_y], -2)

    def _clamp_to_range(self, p: torch.Tensor) -> torch.Tensor:
        limit = self.max_angle if self.is_fisheye else (math.tan(self.max_angle) if self.max_angle < math.pi / 2 else None)
        if limit is None:
            return p
        norm = p.norm(dim=-1, keepdim=True)
        return torch.where(norm > limit, p * (limit / norm.clamp_min(1e-300)), p)

    def _undistort(self, target: torch.Tensor, focal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Solve distort(p) = target by Newton's method (float64, no graph).

        Args:
            target: (..., 2) distorted normalised coordinates. focal: (2,) px per normalised unit,
                to measure the residual in pixels.
        Returns:
            p (..., 2) and converged-and-in-range (...,) bool.
        """
        shape = target.shape[:-1]
        flat_target = target.reshape(-1, 2)
        solution = self._clamp_to_range(flat_target.clone())
        converged = torch.zeros(flat_target.shape[0], dtype=torch.bool, device=target.device)
        finite = torch.isfinite(flat_target).all(-1)
        active = finite.clone()
        for _ in range(_NEWTON_MAX_ITERATIONS + 1):
            index = torch.nonzero(active).squeeze(-1)
            if index.numel() == 0:
                break
            p = solution[index]
            residual = self._distort(p) - flat_target[index]
            done = ((residual * focal).norm(dim=-1) < _NEWTON_TOLERANCE_PX) & torch.isfinite(residual).all(-1)
            converged[index[done]] = True
            active[index[done]] = False
            keep = ~done
            index, p, residual = index[keep], p[keep], residual[keep]
            if index.numel() == 0:
                break
            jacobian = self._distortion_jacobian(p)
            det = jacobian[:, 0, 0] * jacobian[:, 1, 1] - jacobian[:, 0, 1] * jacobian[:, 1, 0]
            singular = ~(det.abs() > _MIN_JACOBIAN_DET)
            step = _solve_2x2(jacobian, residual)
            solution[index] = torch.where(singular[:, None], p, self._clamp_to_range(p - step))
            active[index[singular]] = False
        norm = solution.norm(dim=-1)
        # strict, like ``project``: a solution exactly on the fold is where rays stop being one-to-one
        in_range = (norm if self.is_fisheye else torch.atan(norm)) < self.max_angle
        valid = converged & in_range & torch.isfinite(solution).all(-1)
        return solution.reshape(*shape, 2), valid.reshape(shape)


def _project(lens, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``CameraModel.project`` of (..., 3) eye points with the numbers of ``lens`` (a ``CameraModel``, or a
    ``_StackedLens`` whose tensors broadcast against the points' leading dimensions)."""
    x, y, z = points.unbind(-1)
    r2 = x * x + y * y
    if lens.is_fisheye:
        taylor = (z > 0) & (r2 < (_TAYLOR_RATIO * z) ** 2)
        general = (r2 > 0) & ~taylor
        # Each branch sees only inputs it is defined for, so unused branches carry no inf/NaN
        # into the gradient of torch.where.
        r = torch.sqrt(torch.where(general, r2, torch.ones_like(r2)))
        scale_general = torch.atan2(r, z) / r.clamp_min(_ARCTAN_GUARD)
        z_taylor = torch.where(taylor, z, torch.ones_like(z))
        scale_taylor = (1.0 - r2 / (3.0 * z_taylor * z_taylor)) / z_taylor
        # r == 0 off the forward axis (eye centre or straight behind): the guarded formula gives
        # (0, 0) in float64 but 0 * inf = NaN in float32 (pi / 2^-128 overflows), so set 0 directly.
        scale = torch.where(taylor, scale_taylor, torch.where(general, scale_general, torch.zeros_like(r2)))
        normalised = torch.stack([x * scale, y * scale], -1)
        theta = torch.atan2(torch.sqrt(r2.detach()), z.detach())
        valid = (r2 + z * z > 0) & (theta < lens.max_angle)
    else:
        valid = z > MIN_DEPTH_M
        z_safe = torch.where(valid, z, torch.ones_like(z))
        normalised = torch.stack([x / z_safe, y / z_safe], -1)
        if isinstance(lens.max_angle, torch.Tensor):  # a stack: only rows whose lens folds before 90 deg are limited
            limited = lens.max_angle < math.pi / 2
            bound = torch.tan(torch.where(limited, lens.max_angle, torch.zeros_like(lens.max_angle)))
            valid = valid & (~limited | (r2.detach() < (bound * z.detach()) ** 2))
        elif lens.max_angle < math.pi / 2:
            valid = valid & (r2.detach() < (math.tan(lens.max_angle) * z.detach()) ** 2)
    distorted = _distort(lens, normalised)
    return _to_pixels(lens, distorted), valid


def _in_image(lens, pixels: torch.Tensor) -> torch.Tensor:
    """``CameraModel.in_image`` with the image size of ``lens``: (..., 2) -> (...,) bool."""
    u, v = pixels.unbind(-1)
    return (u >= 0) & (u <= lens.width - 1) & (v >= 0) & (v <= lens.height - 1)


def _to_pixels(lens, distorted: torch.Tensor) -> torch.Tensor:
    """Distorted normalised (..., 2) -> pixels (..., 2)."""
    x, y = distorted.unbind(-1)
    return torch.stack([lens.fx * x + lens.cx, lens.fy * y + lens.cy], -1)


def _radial(lens, rho2: torch.Tensor | np.ndarray):
    """Radial factor of the distortion as a function of the squared normalised radius."""
    c = lens.distortion
    if lens.kind in ("opencv", "rational"):
        radial = 1 + rho2 * (c[0] + rho2 * (c[1] + rho2 * c[2]))
        if lens.kind == "rational":
            radial = radial / (1 + rho2 * (c[5] + rho2 * (c[6] + rho2 * c[7])))
        return radial
    if lens.kind == "fisheye62":
        k = (c[0], c[1], c[2], c[3], c[6], c[7])
    elif lens.kind == "fisheye624":
        k = c[:6]
    else:  # oculus_fisheye
        k = c[:4]
    radial = 0.0
    for coefficient in reversed(k):
        radial = (radial + coefficient) * rho2
    return 1 + radial


def _distort(lens, p: torch.Tensor) -> torch.Tensor:
    """Normalised (..., 2) -> distorted normalised (..., 2), cameras.md §3 and §8."""
    if lens.kind == "pinhole":
        return p
    c = lens.distortion
    x, y = p.unbind(-1)
    if lens.kind in ("opencv", "rational"):
        # Standard OpenCV form: radius of the undistorted point, x gets 2 p1 x y + p2 (r^2 + 2 x^2).
        p1, p2 = c[3], c[4]
        r2 = x * x + y * y
        radial = _radial(lens, r2)
        xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        return torch.stack([xd, yd], -1)
    rho2 = x * x + y * y
    if lens.kind != "oculus_fisheye":
        rho2 = rho2.clamp(max=math.pi**2)  # UmeTrack and the toolkit clamp; the toolkit's OVR44 does not
    radial = _radial(lens, rho2)
    xr, yr = x * radial, y * radial
    s2 = xr * xr + yr * yr  # from the radially distorted point (cameras.md §3 step 3)
    if lens.kind == "oculus_fisheye":
        # hand_tracking_toolkit OVR44Distortion: OpenCV-ordered tangential terms scaled by
        # (1 + p3 s^2 + p4 s^4); note p1/p2 swap roles relative to fisheye62/624.
        p1, p2, p3, p4 = c[4:8]
        factor = 1 + s2 * (p3 + s2 * p4)
        xd = xr + (2 * p1 * xr * yr + p2 * (s2 + 2 * xr * xr)) * factor
        yd = yr + (2 * p2 * xr * yr + p1 * (s2 + 2 * yr * yr)) * factor
        return torch.stack([xd, yd], -1)
    p1, p2 = (c[4], c[5]) if lens.kind == "fisheye62" else (c[6], c[7])
    xd = xr + 2 * p2 * xr * yr + p1 * (s2 + 2 * xr * xr)
    yd = yr + 2 * p1 * xr * yr + p2 * (s2 + 2 * yr * yr)
    if lens.kind == "fisheye624":
        s1, s2c, s3, s4 = c[8:12]
        s4_ = s2 * s2
        xd = xd + s1 * s2 + s2c * s4_
        yd = yd + s3 * s2 + s4 * s4_
    return torch.stack([xd, yd], -1)


def _solve_2x2(matrix: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """matrix^-1 rhs for (..., 2, 2) and (..., 2), closed form (callers guard singular matrices)."""
    a, b, c, d = matrix[..., 0, 0], matrix[..., 0, 1], matrix[..., 1, 0], matrix[..., 1, 1]
    det = a * d - b * c
    det = torch.where(det.abs() > _MIN_JACOBIAN_DET, det, torch.ones_like(det))
    x, y = rhs.unbind(-1)
    return torch.stack([(d * x - b * y) / det, (a * y - c * x) / det], -1)


class _StackedLens:
    """The numbers ``_project`` / ``_in_image`` read, as tensors (K, 1, ..., 1) over K models of one kind."""

    def __init__(self, kind: str, values: torch.Tensor):
        self.kind = kind
        self.is_fisheye = kind in FISHEYE_KINDS
        self.fx, self.fy, self.cx, self.cy, self.max_angle, self.width, self.height = values[:7]
        self.distortion = tuple(values[7:])


@dataclass(frozen=True, eq=False)
class CameraModelStack:
    """K camera models projecting together: row k of the points goes through ``models[k]``.

    For per-frame work over every camera of a headset (view selection, crop sampling maps): one
    projection for all cameras instead of one per camera, whose cost is mostly per-operation
    overhead. The formulas are ``CameraModel``'s own (``_project``) evaluated with per-row
    coefficient tensors instead of floats, so row k equals ``models[k].project`` of that row
    (bit for bit: the coefficients are cast to the points' dtype, as torch casts a float).
    Models of different kinds are projected one kind at a time.

    Attributes:
        models: the K models (K >= 1).
    """

    models: tuple[CameraModel, ...]

    def __post_init__(self) -> None:
        models = tuple(self.models)
        if not models:
            raise ValueError("CameraModelStack needs at least one model")
        object.__setattr__(self, "models", models)
        groups = []  # (kind, rows or None for all, (7 + D, rows) float64 values)
        for kind in dict.fromkeys(m.kind for m in models):
            rows = [k for k, m in enumerate(models) if m.kind == kind]
            values = torch.tensor(
                [[m.fx, m.fy, m.cx, m.cy, m.max_angle, m.width, m.height, *m.distortion] for m in (models[k] for k in rows)],
                dtype=torch.float64,
            ).T.contiguous()
            groups.append((kind, None if len(rows) == len(models) else rows, values))
        object.__setattr__(self, "_groups", tuple(groups))

    def __len__(self) -> int:
        return len(self.models)

    def _per_kind(self, function, points: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``function(lens, rows)`` (returning a tuple) on the rows (K, ...) of ``points`` of each kind, reassembled."""
        if points.shape[0] != len(self.models):
            raise ValueError(f"expected {len(self.models)} rows, got shape {tuple(points.shape)}")
        results = None
        for kind, rows, values in self._groups:
            part_points = points if rows is None else points[rows]
            lens = _StackedLens(kind, values.to(points.dtype).reshape(*values.shape, *([1] * (points.ndim - 2))))
            part = function(lens, part_points)
            if rows is None:
                return part
            if results is None:
                results = tuple(torch.empty(len(self.models), *r.shape[1:], dtype=r.dtype) for r in part)
            for result, value in zip(results, part):
                result[rows] = value
        return results

    def project(self, points_eye: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """``CameraModel.project`` per row.

        Args:
            points_eye: (K, ..., 3) metres; row k in the eye frame of ``models[k]``.
        Returns:
            pixels (K, ..., 2) and valid (K, ...).
        """
        return self._per_kind(_project, _as_float_tensor(points_eye))

    def in_image(self, pixels: Any) -> torch.Tensor:
        """``CameraModel.in_image`` per row: pixels (K, ..., 2) -> (K, ...) bool."""
        return self._per_kind(lambda lens, p: (_in_image(lens, p),), _as_float_tensor(pixels))[0]


@functools.lru_cache(maxsize=64)
def _model_stack(models: tuple[CameraModel, ...]) -> CameraModelStack:
    """The stack of a headset's models, built once (the same models come back every frame)."""
    return CameraModelStack(models)


@dataclass(frozen=True, eq=False)
class Camera:
    """A camera model placed in the world.

    Attributes:
        model: intrinsics and distortion; or a ``CameraModelStack`` of K models with
            ``T_world_from_camera`` (K, 4, 4), row k posed with model k (see ``Camera.stack``).
        T_world_from_camera: (4, 4) or batched (..., 4, 4) rigid camera -> world, metres (numpy is
            converted; integer input becomes float64).
        label: free text ("camera-slam-left", a stream id, ...).

    Raises:
        InvalidCameraError: wrong shape, non-finite or non-rigid ``T_world_from_camera``.
    """

    model: CameraModel | CameraModelStack
    T_world_from_camera: torch.Tensor
    label: str = ""

    def __post_init__(self) -> None:
        T = torch.as_tensor(self.T_world_from_camera)
        if not T.is_floating_point():
            T = T.to(torch.float64)
        name = f"camera {self.label!r} T_world_from_camera" if self.label else "camera T_world_from_camera"
        if T.ndim < 2 or T.shape[-2:] != (4, 4):
            raise InvalidCameraError(f"{name}: expected (..., 4, 4), got shape {tuple(T.shape)}")
        try:
            with torch.no_grad():
                check_rigid(T, name)
        except InvalidPoseError as exc:
            raise InvalidCameraError(str(exc)) from None
        object.__setattr__(self, "T_world_from_camera", T)

    @staticmethod
    def stack(cameras: Sequence[Camera]) -> Camera:
        """K unbatched cameras as one: model ``CameraModelStack``, T_world_from_camera (K, 4, 4).

        Its ``world_to_eye`` / ``project_world`` / ``visible`` take points (K, N, 3) (row k in camera
        k) or (N, 3) (the same points in every camera) and return a leading K dimension.
        """
        stacked = object.__new__(Camera)  # each pose was checked when its camera was made: skip __post_init__
        object.__setattr__(stacked, "model", _model_stack(tuple(c.model for c in cameras)))
        object.__setattr__(stacked, "T_world_from_camera", torch.stack([c.T_world_from_camera for c in cameras]))
        object.__setattr__(stacked, "label", "")
        return stacked

    @property
    def T_camera_from_world(self) -> torch.Tensor:
        """(..., 4, 4) world -> eye."""
        return invert_rigid(self.T_world_from_camera)

    def world_to_eye(self, points_world: Any) -> torch.Tensor:
        """World points to the eye frame, in the points' dtype.

        Args:
            points_world: (..., 3) for an unbatched pose; (..., N, 3) when ``T_world_from_camera`` is
                (..., 4, 4), the pose batch broadcasting against the points' leading dimensions.
        Returns:
            same shape as ``points_world``, metres.
        """
        points = _as_float_tensor(points_world)
        T = self.T_camera_from_world.to(points)
        if T.ndim == 2:
            return points @ T[:3, :3].transpose(0, 1) + T[:3, 3]
        return transform_points(T, points)

    def project_world(self, points_world: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """``model.project(world_to_eye(points_world))``: pixels (..., 2) and valid (...,)."""
        return self.model.project(self.world_to_eye(points_world))

    def visible(self, points_world: Any) -> torch.Tensor:
        """(...,) bool: projection valid, pixel centre inside the image and the point in front (z > 0)."""
        eye = self.world_to_eye(points_world)
        pixels, valid = self.model.project(eye)
        return valid & self.model.in_image(pixels) & (eye[..., 2] > 0)


@dataclass(frozen=True, eq=False)
class DeviceCamera:
    """A camera rigidly mounted on a device (headset), as calibration files describe it.

    Attributes:
        stream_id: image stream ("1201-1" SLAM left, "1201-2" SLAM right, "214-1" RGB), "" if unknown.
        label: the calibration's label ("camera-slam-left", ...).
        model: intrinsics and distortion.
        T_device_from_camera: (4, 4) float64 rigid camera -> device, metres.
    """

    stream_id: str
    label: str
    model: CameraModel
    T_device_from_camera: torch.Tensor

    def in_world(self, T_world_from_device: Any) -> Camera:
        """The camera at a device pose: T_world_from_camera = T_world_from_device @ T_device_from_camera.

        Args:
            T_world_from_device: (..., 4, 4) rigid, metres (a batch gives a batched Camera).
        """
        T_wd = torch.as_tensor(T_world_from_device)
        T_wd = T_wd if T_wd.is_floating_point() else T_wd.to(torch.float64)
        return Camera(self.model, T_wd @ self.T_device_from_camera.to(T_wd), self.label)
