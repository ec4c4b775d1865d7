"""People in the replica's pictures, dressed by period: hats, skirt and coat lengths, sober or bright colours.

Each figure has a head with eyes, brows and a mouth, hair, a torso with arms, and either a skirt or
trousers. What they wear follows the year (jittered, so neighbouring decades overlap): tall hats
before about 1910, brimmed hats until the 1950s and few after; skirts to the ground before the 1910s,
to mid-calf in the 1920s-50s, to the knee from the 1960s; long coats early; dark, sober cloth early
and bright colours from the 1960s. Every choice comes from the picture's own `Dress` stream, separate
from the streams that draw the rest of the picture and the catalogue, so adding clothes changed
nothing else: the same years, titles, holders, duplicates and the same sky, buildings and print look.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLOTHES_JITTER = 6.0  # years of jitter (sd) before reading the clothes curves

# Clothes curves: (year knots, values), read with np.interp at the jittered year.
_HAT_P = ((1860, 1905, 1935, 1950, 1962, 1975), (0.9, 0.85, 0.8, 0.55, 0.2, 0.08))  # wears a hat
_TALL_HAT_P = ((1860, 1895, 1912, 1925), (0.75, 0.5, 0.1, 0.0))  # a hat is a tall (top) hat
_SKIRT_HEM = ((1860, 1910, 1920, 1950, 1962, 1970, 1990), (1.0, 0.97, 0.72, 0.68, 0.5, 0.42, 0.5))  # of the legs
_COAT_HEM = ((1860, 1910, 1940, 1960, 1990), (0.7, 0.6, 0.45, 0.2, 0.05))  # a coat's reach below the waist
_BRIGHT = ((1860, 1930, 1950, 1962, 1975, 1990), (0.03, 0.08, 0.2, 0.55, 0.85, 0.8))  # cloth colour vs dark
_BRIGHT_COLOURS = np.array([[0.85, 0.2, 0.2], [0.2, 0.45, 0.85], [0.95, 0.75, 0.15], [0.25, 0.7, 0.35],
                            [0.9, 0.45, 0.7], [0.95, 0.5, 0.15]], np.float32)
HAIR = np.array([0.12, 0.09, 0.07], np.float32)
FEATURES = np.array([0.08, 0.06, 0.05], np.float32)  # eyes, brows and mouth


@dataclass(frozen=True)
class Dress:
    year: int  # the picture's true year: the clothes follow it
    rng: np.random.Generator  # the clothes' own stream (never the picture's or the catalogue's)

    @classmethod
    def of(cls, year: int, seed: int, w: int, h: int, sitting: int) -> Dress:
        return cls(year, np.random.default_rng([int(seed) & 0xFFFFFFFF, int(year) & 0xFFFF, w, h, sitting, 0xC0A7]))


def _curve(curve: tuple[tuple, tuple], year: float) -> float:
    return float(np.interp(year, curve[0], curve[1]))


def _rect(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, colour: np.ndarray) -> None:
    h, w, _ = img.shape
    xa, xb, ya, yb = max(0, int(x0)), min(w, int(x1)), max(0, int(y0)), min(h, int(y1))
    if xa < xb and ya < yb:
        img[ya:yb, xa:xb] = colour


def _ellipse(img: np.ndarray, cx: float, cy: float, rx: float, ry: float, colour: np.ndarray) -> None:
    h, w, _ = img.shape
    xa, xb = max(0, int(cx - rx)), min(w, int(cx + rx) + 1)
    ya, yb = max(0, int(cy - ry)), min(h, int(cy + ry) + 1)
    if xa < xb and ya < yb:
        yy = (np.arange(ya, yb)[:, None] - cy) / max(ry, 0.5)
        xx = (np.arange(xa, xb)[None, :] - cx) / max(rx, 0.5)
        img[ya:yb, xa:xb][(yy * yy + xx * xx) <= 1.0] = colour


def _trapezoid(img: np.ndarray, cx: float, y0: float, y1: float, top_w: float, bottom_w: float,
               colour: np.ndarray) -> None:
    h, w, _ = img.shape
    ya, yb = max(0, int(y0)), min(h, int(y1))
    for y in range(ya, yb):
        half = (top_w + (bottom_w - top_w) * (y - y0) / max(y1 - y0, 1.0)) / 2.0
        xa, xb = max(0, int(cx - half)), min(w, int(cx + half))
        if xa < xb:
            img[y, xa:xb] = colour


def cloth(dress: Dress, sober: np.ndarray) -> np.ndarray:
    """A garment's colour: the sober (dark) colour drawn before, or a bright one, more often in later years."""
    year = dress.year + dress.rng.normal(0.0, CLOTHES_JITTER)
    if dress.rng.random() < _curve(_BRIGHT, year):
        pick = _BRIGHT_COLOURS[int(dress.rng.integers(0, len(_BRIGHT_COLOURS)))]
        return np.clip(pick + dress.rng.normal(0.0, 0.06, 3).astype(np.float32), 0.0, 1.0)
    return sober


def draw_figure(img: np.ndarray, cx: int, base: int, scale: float, coat: np.ndarray, skin: np.ndarray,
                dress: Dress) -> None:
    """A person standing on `base` (feet), centred on `cx`, 52 * `scale` pixels tall with the head."""
    rng = dress.rng
    year = dress.year + rng.normal(0.0, CLOTHES_JITTER)
    head_r = 6.0 * scale + 1.0
    torso_h, legs_h, body_w = 18.0 * scale, 22.0 * scale, 14.0 * scale
    waist = base - legs_h
    shoulder = waist - torso_h
    head_y = shoulder - head_r * 1.05
    skirt = rng.random() < 0.5
    upper = cloth(dress, coat)
    lower = cloth(dress, coat * 0.8) if skirt else np.clip(coat * rng.uniform(0.6, 1.0), 0.0, 1.0)
    legs = np.clip(skin * 0.8, 0.0, 1.0) if skirt else lower
    leg_w = body_w * 0.3
    _rect(img, cx - body_w * 0.38, waist, cx - body_w * 0.38 + leg_w, base, legs)
    _rect(img, cx + body_w * 0.38 - leg_w, waist, cx + body_w * 0.38, base, legs)
    _rect(img, cx - body_w * 0.4, base - scale * 2.5, cx - body_w * 0.02, base, FEATURES)  # shoes
    _rect(img, cx + body_w * 0.02, base - scale * 2.5, cx + body_w * 0.4, base, FEATURES)
    if skirt:
        hem = waist + legs_h * _curve(_SKIRT_HEM, year)
        _trapezoid(img, cx, waist, hem, body_w * 0.9, body_w * (1.1 + 0.5 * _curve(_SKIRT_HEM, year)), lower)
    coat_hem = waist + legs_h * _curve(_COAT_HEM, year) * rng.uniform(0.7, 1.2)
    _rect(img, cx - body_w / 2, shoulder, cx + body_w / 2, coat_hem, upper)
    arm_w = body_w * 0.2
    _rect(img, cx - body_w / 2 - arm_w, shoulder + scale, cx - body_w / 2, waist + legs_h * 0.1, upper)
    _rect(img, cx + body_w / 2, shoulder + scale, cx + body_w / 2 + arm_w, waist + legs_h * 0.1, upper)
    _rect(img, cx - head_r * 0.35, head_y + head_r * 0.8, cx + head_r * 0.35, shoulder + 1, skin)  # neck
    _ellipse(img, cx, head_y - head_r * 0.15, head_r * 1.05, head_r * 0.95, HAIR)
    _ellipse(img, cx, head_y + head_r * 0.1, head_r * 0.85, head_r * 1.0, skin)
    if head_r >= 5:  # a face a detector could see: brows, eyes, the nose's shadow, a mouth
        eye_dx, eye_y, eye_r = head_r * 0.35, head_y - head_r * 0.05, max(1.0, head_r * 0.14)
        for side in (-1, 1):
            _rect(img, cx + side * eye_dx - eye_r * 1.8, eye_y - eye_r * 2.6, cx + side * eye_dx + eye_r * 1.8,
                  eye_y - eye_r * 1.7, FEATURES)
            _ellipse(img, cx + side * eye_dx, eye_y, eye_r * 1.3, eye_r, FEATURES)
        _rect(img, cx - head_r * 0.08, eye_y + eye_r, cx + head_r * 0.08, head_y + head_r * 0.45, skin * 0.8)
        _rect(img, cx - head_r * 0.3, head_y + head_r * 0.6, cx + head_r * 0.3, head_y + head_r * 0.7, FEATURES)
    if rng.random() < _curve(_HAT_P, year):
        hat = cloth(dress, np.clip(coat * 0.6, 0.0, 1.0)) if year > 1950 else np.clip(coat * 0.5, 0.0, 1.0)
        crown_top = head_y - head_r * (2.4 if rng.random() < _curve(_TALL_HAT_P, year) else 1.35)
        _rect(img, cx - head_r * 0.8, crown_top, cx + head_r * 0.8, head_y - head_r * 0.55, hat)
        _rect(img, cx - head_r * 1.45, head_y - head_r * 0.7, cx + head_r * 1.45, head_y - head_r * 0.5, hat)
