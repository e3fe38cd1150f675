"""Chinese coordinate systems: WGS-84 (stored), GCJ-02 (AMap, Tencent) and
BD-09 (Baidu), converted at the edges.

The GCJ-02 offset is the public approximation of the national "obfuscation"
(Krasovsky ellipsoid constants); BD-09 adds Baidu's own rotation. Neither
inverse has a closed form: GCJ-02 → WGS-84 and BD-09 → GCJ-02 are solved by
fixed-point iteration to < 1e-9°.
Outside mainland China's bounding box GCJ-02 equals WGS-84 (as the
providers do), so the module is harmless for other cities.

Every function works on scalars and on numpy arrays alike.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from shanzhi.core.errors import ValidationError

CRS = Literal["wgs84", "gcj02", "bd09"]
CRS_CHOICES: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

_A = 6378245.0  # Krasovsky 1940 semi-major axis
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0


def in_china(lng: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """The rough box inside which providers apply the GCJ-02 offset."""
    lng, lat = np.asarray(lng, dtype=float), np.asarray(lat, dtype=float)
    return (lng > 73.66) & (lng < 135.05) & (lat > 3.86) & (lat < 53.55)


def _offset(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lng - 105.0, lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y
            + 0.2 * np.sqrt(np.abs(x)))
    dlat += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlng += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlng += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlng += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlng = (dlng * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlng, dlat


def _out(lng: np.ndarray, lat: np.ndarray, scalar: bool):
    if scalar:
        return float(lng), float(lat)
    return lng, lat


def _arrays(lng: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray, bool]:
    scalar = np.ndim(lng) == 0 and np.ndim(lat) == 0
    return np.asarray(lng, dtype=float), np.asarray(lat, dtype=float), scalar


def wgs84_to_gcj02(lng: ArrayLike, lat: ArrayLike):
    lng, lat, scalar = _arrays(lng, lat)
    dlng, dlat = _offset(lng, lat)
    inside = in_china(lng, lat)
    return _out(np.where(inside, lng + dlng, lng), np.where(inside, lat + dlat, lat), scalar)


def gcj02_to_wgs84(lng: ArrayLike, lat: ArrayLike):
    """Inverse of :func:`wgs84_to_gcj02` by fixed-point iteration."""
    glng, glat, scalar = _arrays(lng, lat)
    wlng, wlat = glng.copy(), glat.copy()
    for _ in range(30):
        tlng, tlat = wgs84_to_gcj02(wlng, wlat)
        elng, elat = np.asarray(tlng) - glng, np.asarray(tlat) - glat
        wlng, wlat = wlng - elng, wlat - elat
        if np.all(np.abs(elng) < 1e-10) and np.all(np.abs(elat) < 1e-10):
            break
    return _out(wlng, wlat, scalar)


def gcj02_to_bd09(lng: ArrayLike, lat: ArrayLike):
    lng, lat, scalar = _arrays(lng, lat)
    z = np.sqrt(lng * lng + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lng) + 0.000003 * np.cos(lng * _X_PI)
    return _out(z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006, scalar)


def bd09_to_gcj02(lng: ArrayLike, lat: ArrayLike):
    """Inverse of :func:`gcj02_to_bd09`: Baidu's published one-step
    approximation (off by up to 2e-6°, ~0.2 m), refined by fixed-point
    iteration to < 1e-12°."""
    blng, blat, scalar = _arrays(lng, lat)
    x, y = blng - 0.0065, blat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    glng, glat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(10):
        tlng, tlat = gcj02_to_bd09(glng, glat)
        elng, elat = np.asarray(tlng) - blng, np.asarray(tlat) - blat
        glng, glat = glng - elng, glat - elat
        if np.all(np.abs(elng) < 1e-12) and np.all(np.abs(elat) < 1e-12):
            break
    return _out(glng, glat, scalar)


def wgs84_to_bd09(lng: ArrayLike, lat: ArrayLike):
    return gcj02_to_bd09(*wgs84_to_gcj02(lng, lat))


def bd09_to_wgs84(lng: ArrayLike, lat: ArrayLike):
    return gcj02_to_wgs84(*bd09_to_gcj02(lng, lat))


def check_crs(crs: str | None) -> str:
    """The CRS name, lower-cased; an unknown one is a ValidationError."""
    name = (crs or "wgs84").strip().lower()
    if name not in CRS_CHOICES:
        raise ValidationError(
            f"unknown crs {crs!r}: use one of {', '.join(CRS_CHOICES)}", field="crs")
    return name


def to_wgs84(lng: ArrayLike, lat: ArrayLike, crs: str = "wgs84"):
    """Convert coordinates given in ``crs`` to WGS-84."""
    name = check_crs(crs)
    if name == "gcj02":
        return gcj02_to_wgs84(lng, lat)
    if name == "bd09":
        return bd09_to_wgs84(lng, lat)
    lng, lat, scalar = _arrays(lng, lat)
    return _out(lng, lat, scalar)


def check_lng_lat(lng: object, lat: object) -> tuple[float, float]:
    """Parse one coordinate pair; anything not a finite number in range is a
    ValidationError naming the field."""
    values = {}
    for field, raw, limit in (("lng", lng, 180.0), ("lat", lat, 90.0)):
        try:
            value = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValidationError(f"{field} must be a number, got {raw!r}", field=field) from None
        if not np.isfinite(value) or abs(value) > limit:
            raise ValidationError(f"{field} must lie between -{limit:g} and {limit:g}, got {raw!r}",
                                  field=field)
        values[field] = value
    return values["lng"], values["lat"]
