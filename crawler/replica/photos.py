"""Synthetic photographs whose look carries era cues, for the replica archive and for tests.

A scene (sky, ground, buildings or a studio portrait, figures, texture) is drawn in colour and
then "developed" the way a print of its year would look: albumen/sepia, vignetting, fading,
card borders and heavy grain in the 19th century; grainy silver-gelatin monochrome until the
1940s; mostly monochrome with some faded colour in the 1950s-60s; colour with warm or magenta
casts in the 1970s-80s. Every cue is drawn from a distribution whose centre moves with the year
and whose spread overlaps the neighbouring decades, so a model can learn the era from the look
but cannot separate neighbouring decades perfectly.

Vectorised numpy throughout: a 320x240 picture takes a few milliseconds.

>>> render_photo(1955, seed=3).size
(320, 240)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from crawler.replica.figures import Dress, draw_figure

# Year jitter (standard deviation) applied before reading the era curves: it makes neighbouring
# decades overlap.
ERA_JITTER = 7.0

# Pictures lower than this keep the older plain silhouettes: a face there is under 10 px and clothes cannot be
# read, and the small pictures the tests build stay the pixels they were.
DRESSED_MIN_HEIGHT = 200

# Side of the shared square grain field, in pixels.
GRAIN_TILE = 768

# Era curves: (year knots, values). Read with np.interp at the jittered year.
_COLOUR_P = ((1938, 1950, 1958, 1965, 1972, 1980, 1990), (0.0, 0.08, 0.25, 0.5, 0.82, 0.93, 0.97))
_SEPIA = ((1860, 1890, 1905, 1925, 1945, 1960), (0.9, 0.75, 0.45, 0.25, 0.1, 0.03))
_VIGNETTE = ((1860, 1895, 1920, 1945, 1970, 1990), (0.65, 0.5, 0.3, 0.18, 0.12, 0.06))
_GRAIN = ((1860, 1900, 1930, 1955, 1970, 1990), (0.1, 0.08, 0.06, 0.045, 0.03, 0.018))
_FADE = ((1860, 1900, 1930, 1955, 1975, 1990), (0.4, 0.3, 0.16, 0.12, 0.1, 0.04))
_BORDER_P = ((1860, 1900, 1925, 1950, 1965, 1975, 1990), (0.8, 0.55, 0.45, 0.35, 0.25, 0.12, 0.05))
_PORTRAIT_P = ((1860, 1900, 1930, 1960, 1990), (0.6, 0.45, 0.3, 0.2, 0.15))
_SOFTNESS_P = ((1860, 1900, 1930, 1960), (0.7, 0.4, 0.15, 0.05))
_SATURATION = ((1940, 1960, 1975, 1990), (0.45, 0.55, 0.75, 0.95))

# Paper and toner colours (RGB, 0..1).
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
SEPIA_TONE = np.array([1.0, 0.8, 0.55], dtype=np.float32)
ALBUMEN_HIGHLIGHT = np.array([0.98, 0.9, 0.72], dtype=np.float32)
CARD_COLOURS = np.array([[0.82, 0.74, 0.58], [0.62, 0.5, 0.36], [0.22, 0.2, 0.2], [0.86, 0.82, 0.72]], np.float32)
WHITE_BORDER = np.array([0.95, 0.94, 0.9], dtype=np.float32)
# Mean colour casts of colour prints: 1950s-60s faded (yellow-green, low density), 1970s warm /
# magenta (cyan dye fading), 1980s close to neutral.
_CASTS = {
    1950: np.array([0.02, 0.03, -0.07], np.float32),
    1965: np.array([0.07, -0.02, -0.05], np.float32),
    1975: np.array([0.09, -0.03, -0.02], np.float32),
    1985: np.array([0.03, 0.0, -0.02], np.float32),
}


@dataclass(frozen=True)
class EraLook:
    colour: bool  # a colour print (else monochrome)
    sepia: float  # 0..1 strength of the warm toning of a monochrome print
    vignette: float  # 0..1 darkening at the corners
    grain: float  # standard deviation of film grain, in 0..1 intensity units
    fade: float  # 0..1 loss of contrast towards the paper colour
    saturation: float  # 0..1 saturation kept by a colour print
    cast: tuple[float, float, float]  # additive RGB colour cast of a colour print
    border: str  # "none" | "card" | "white"
    portrait: bool  # a studio portrait rather than a street or landscape view
    soft: bool  # a soft lens / slight blur


def _curve(curve: tuple[tuple, tuple], year: float) -> float:
    return float(np.interp(year, curve[0], curve[1]))


def era_look(year: int, rng: np.random.Generator) -> EraLook:
    """Draw the development of one print: cue strengths centred on the year's era, with spread."""
    y = year + rng.normal(0.0, ERA_JITTER)
    colour = rng.random() < _curve(_COLOUR_P, y)
    cast_year = min(_CASTS, key=lambda k: abs(k - y))
    cast = _CASTS[cast_year] + rng.normal(0.0, 0.025, 3).astype(np.float32)
    border_p = _curve(_BORDER_P, y)
    border = "none"
    if rng.random() < border_p:
        border = "card" if y < 1905 and rng.random() < 0.8 else "white"
    return EraLook(
        colour=bool(colour),
        sepia=float(np.clip(_curve(_SEPIA, y) * rng.uniform(0.6, 1.3), 0.0, 1.0)),
        vignette=float(np.clip(_curve(_VIGNETTE, y) * rng.uniform(0.5, 1.4), 0.0, 0.9)),
        grain=float(_curve(_GRAIN, y) * rng.uniform(0.6, 1.4)),
        fade=float(np.clip(_curve(_FADE, y) * rng.uniform(0.5, 1.5), 0.0, 0.6)),
        saturation=float(np.clip(_curve(_SATURATION, y) * rng.uniform(0.7, 1.2), 0.15, 1.1)),
        cast=tuple(float(c) for c in cast),
        border=border,
        portrait=bool(rng.random() < _curve(_PORTRAIT_P, y)),
        soft=bool(rng.random() < _curve(_SOFTNESS_P, y)),
    )


@lru_cache(maxsize=16)
def _grid(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised coordinates: x in -1..1 across, y in 0..1 down (read-only, shared)."""
    xs = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    ys = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    xs.setflags(write=False)
    ys.setflags(write=False)
    return xs, ys


def _smooth_noise(rng: np.random.Generator, w: int, h: int, cells: int) -> np.ndarray:
    """Low-frequency noise in -1..1: a coarse random grid upsampled bilinearly by Pillow."""
    cw, ch = max(2, cells), max(2, cells * h // w)
    small = rng.random((ch, cw), dtype=np.float32)
    img = Image.fromarray(small, mode="F").resize((w, h), Image.Resampling.BILINEAR)
    return np.asarray(img) * 2.0 - 1.0


def _random_colour(rng: np.random.Generator, base: tuple[float, float, float], spread: float) -> np.ndarray:
    return np.clip(np.array(base, np.float32) + rng.normal(0.0, spread, 3).astype(np.float32), 0.0, 1.0)


def _street(img: np.ndarray, rng: np.random.Generator, xs: np.ndarray, ys: np.ndarray, detail: np.random.Generator,
            dress: Dress) -> None:
    """Sky, ground, then (drawn from `detail`) a row of buildings with windows and a few figures."""
    h, w, _ = img.shape
    horizon = int(h * rng.uniform(0.38, 0.68))
    sky_top = _random_colour(rng, (0.35, 0.55, 0.85), 0.08)
    sky_low = _random_colour(rng, (0.8, 0.85, 0.9), 0.05)
    t = ys[:horizon] / max(ys[horizon - 1, 0], 1e-3)
    img[:horizon] = sky_top * (1 - t[..., None]) + sky_low * t[..., None]
    clouds = _smooth_noise(rng, w, horizon, 6)
    img[:horizon] += np.clip(clouds, 0, 1)[..., None] * rng.uniform(0.1, 0.35)
    ground = _random_colour(rng, rng.choice([(0.4, 0.45, 0.3), (0.5, 0.45, 0.38), (0.45, 0.45, 0.45)]), 0.05)
    tg = (ys[horizon:] - ys[horizon, 0]) / max(1.0 - ys[horizon, 0], 1e-3)
    img[horizon:] = ground * (0.75 + 0.45 * tg[..., None])
    rng = detail
    x = 0
    while x < w:
        bw = int(rng.integers(w // 8, w // 3))
        bh = int(rng.integers(h // 6, int(horizon * 0.95) + 1))
        if rng.random() < 0.25:  # a gap: street, trees or the river
            x += bw // 2
            continue
        top = max(0, horizon - bh)
        wall = _random_colour(rng, rng.choice([(0.78, 0.7, 0.55), (0.9, 0.88, 0.82), (0.6, 0.38, 0.3)]), 0.06)
        block = img[top:horizon, x : x + bw]
        block[:] = wall
        bh_real, bw_real = block.shape[:2]
        px, py = int(rng.integers(8, 16)), int(rng.integers(10, 20))
        yy = np.arange(bh_real)[:, None]
        xx = np.arange(bw_real)[None, :]
        windows = ((xx % px) < px // 2) & ((yy % py) < py // 2) & (yy > 3) & (yy < bh_real - 6)
        block[windows] *= rng.uniform(0.25, 0.5)
        block[:2] *= 0.7  # cornice shadow
        x += bw
    for _ in range(int(rng.integers(0, 6))):
        # passers-by are drawn 1.5-3.5 times the old size (from the dress stream): big enough to be found
        _figure(img, rng, cx=int(rng.integers(0, w)), base=int(rng.integers(horizon, h)), scale=h / 240, dress=dress,
                grow=float(dress.rng.uniform(1.5, 3.5)))


def _portrait(img: np.ndarray, rng: np.random.Generator, xs: np.ndarray, ys: np.ndarray, detail: np.random.Generator,
              dress: Dress) -> None:
    """A studio backdrop with (drawn from `detail`) one to three large figures."""
    h, w, _ = img.shape
    backdrop = _random_colour(rng, (0.55, 0.5, 0.45), 0.1)
    mottling = _smooth_noise(rng, w, h, 5)[..., None]
    img[:] = backdrop * (0.85 + 0.2 * mottling) * (1.1 - 0.3 * ys[..., None])
    rng = detail
    n = int(rng.integers(1, 4))
    for i in range(n):
        cx = int(w * (i + 1) / (n + 1) + rng.normal(0, w * 0.04))
        _figure(img, rng, cx=cx, base=h + int(h * 0.1), scale=h / 240 * rng.uniform(2.2, 3.2), dress=dress)


def _figure(img: np.ndarray, rng: np.random.Generator, cx: int, base: int, scale: float, dress: Dress,
            grow: float = 1.0) -> None:
    """A person standing on `base`, dressed for the year (crawler/replica/figures.py), `grow` times `scale`.

    The draws from `rng` are the ones the plain figures of earlier versions made (a coat colour, then a
    skin colour when the head was in the picture), so the rest of the picture comes out as it did.
    """
    h, w, _ = img.shape
    body_h, head_r = int(40 * scale), int(6 * scale) + 1
    hy = base - body_h - head_r
    coat = _random_colour(rng, (0.2, 0.2, 0.25), 0.12)
    skin_base = (0.85, 0.68, 0.56)
    head_in = max(0, hy - head_r) < min(h, hy + head_r) and max(0, cx - head_r) < min(w, cx + head_r)
    skin = _random_colour(rng if head_in else dress.rng, skin_base, 0.05)
    if h < DRESSED_MIN_HEIGHT:
        _plain_figure(img, cx, base, scale, coat, skin)
    else:
        draw_figure(img, cx, base, scale * grow, coat, skin, dress)


def _plain_figure(img: np.ndarray, cx: int, base: int, scale: float, coat: np.ndarray, skin: np.ndarray) -> None:
    """The older silhouette (a dark body, a light round head): what small pictures show."""
    h, w, _ = img.shape
    body_h, body_w, head_r = int(40 * scale), int(14 * scale), int(6 * scale) + 1
    top = base - body_h
    x0, x1 = max(0, cx - body_w // 2), min(w, cx + body_w // 2)
    y0, y1 = max(0, top), min(h, base)
    if x0 < x1 and y0 < y1:
        img[y0:y1, x0:x1] = coat
    hy = top - head_r
    ya, yb, xa, xb = max(0, hy - head_r), min(h, hy + head_r), max(0, cx - head_r), min(w, cx + head_r)
    if ya < yb and xa < xb:
        yy = np.arange(ya, yb)[:, None] - hy
        xx = np.arange(xa, xb)[None, :] - cx
        img[ya:yb, xa:xb][(yy * yy + xx * xx) <= head_r * head_r] = skin


@lru_cache(maxsize=1)
def _grain_tile() -> np.ndarray:
    """A fixed field of film grain (clumped plus fine), cropped at random offsets per picture.

    Drawing fresh normals for every pixel costs more than the rest of the picture; a shared
    tile read at a random offset and orientation looks the same to the eye and to a model.
    """
    rng = np.random.default_rng(20240601)
    coarse = rng.standard_normal((GRAIN_TILE // 2, GRAIN_TILE // 2), dtype=np.float32).repeat(2, 0).repeat(2, 1)
    tile = coarse * 0.6 + rng.standard_normal((GRAIN_TILE, GRAIN_TILE), dtype=np.float32) * 0.4
    tile.setflags(write=False)
    return tile


def _grain(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    tile = _grain_tile()
    if h > GRAIN_TILE or w > GRAIN_TILE:
        tile = np.tile(tile, (h // GRAIN_TILE + 1, w // GRAIN_TILE + 1))
    oy = int(rng.integers(0, tile.shape[0] - h + 1))
    ox = int(rng.integers(0, tile.shape[1] - w + 1))
    crop = tile[oy : oy + h, ox : ox + w]
    return crop[::-1] if rng.random() < 0.5 else crop


def _develop(img: np.ndarray, look: EraLook, rng: np.random.Generator, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    h, w, _ = img.shape
    if look.colour:
        grey = ((img[..., 0] + img[..., 1] + img[..., 2]) * (1.0 / 3.0))[..., None]
        img -= grey
        img *= look.saturation
        img += grey
        img += np.array(look.cast, np.float32)
        paper = np.array([0.96, 0.93, 0.86], np.float32)
    else:
        # Explicit channel sums, not `img @ LUMA`: a matmul goes to BLAS, whose worker threads
        # cost more than the whole picture on a busy machine.
        lum = img[..., 0] * LUMA[0] + img[..., 1] * LUMA[1] + img[..., 2] * LUMA[2]
        lum -= 0.5
        lum *= rng.uniform(1.0, 1.35)
        lum += 0.5
        np.clip(lum, 0.0, 1.0, out=lum)
        tone = 1.0 - look.sepia * (1.0 - SEPIA_TONE)
        # Toned prints are cooler in the shadows and warm in the highlights.
        img = (lum * (0.85 + 0.15 * lum))[..., None] * tone
        paper = ALBUMEN_HIGHLIGHT if look.sepia > 0.5 else np.array([0.95, 0.94, 0.9], np.float32)
    img *= 1.0 - look.fade
    img += paper * (look.fade * 0.85)
    cx, cy = rng.normal(0, 0.1), rng.normal(0.5, 0.06)
    r2 = (xs - cx) ** 2 * 0.55 + ((ys - cy) * 1.6) ** 2
    img *= (1.0 - look.vignette * 0.8 * np.minimum(r2, 1.6))[..., None]
    grain = _grain(rng, w, h)
    if look.colour:
        img += grain[..., None] * (look.grain * 0.8)
        # Dye clouds differ per layer: a little chromatic noise from other crops of the tile.
        img[..., 0] += _grain(rng, w, h) * (look.grain * 0.4)
        img[..., 2] += _grain(rng, w, h) * (look.grain * 0.4)
    else:
        img += grain[..., None] * look.grain
    return img


def _damage(img: np.ndarray, rng: np.random.Generator, year: float) -> None:
    """Dust specks and scratches, mostly on old prints."""
    h, w, _ = img.shape
    count = int(rng.poisson(max(0.0, (1950 - year) / 12)))
    for _ in range(count):
        if rng.random() < 0.5:
            x = int(rng.integers(0, w))
            y0, y1 = sorted(rng.integers(0, h, 2))
            img[y0:y1, x] = rng.uniform(0.75, 1.0)
        else:
            x, y, r = int(rng.integers(0, w - 3)), int(rng.integers(0, h - 3)), int(rng.integers(1, 3))
            img[y : y + r, x : x + r] = rng.choice([0.05, 0.95])


def _border(img: np.ndarray, look: EraLook, rng: np.random.Generator) -> None:
    h, w, _ = img.shape
    if look.border == "none":
        return
    if look.border == "card":
        colour = CARD_COLOURS[int(rng.integers(0, len(CARD_COLOURS)))] * rng.uniform(0.85, 1.05)
        m = int(min(w, h) * rng.uniform(0.06, 0.12))
        bottom = m + int(h * rng.uniform(0.03, 0.1))  # the studio's imprint strip
    else:
        colour = WHITE_BORDER * rng.uniform(0.92, 1.02)
        m = int(min(w, h) * rng.uniform(0.025, 0.06))
        bottom = m
    frame = np.ones((h, w), bool)
    frame[m : h - bottom, m : w - m] = False
    # Paper with a little fibre texture, no film grain.
    img[frame] = colour + rng.normal(0, 0.02, (int(frame.sum()), 1)).astype(np.float32)
    if look.border == "card" and m > 4:
        img[m - 2, m - 2 : w - m + 2] *= 0.7  # the embossed rule around the print
        img[h - bottom + 1, m - 2 : w - m + 2] *= 0.7


def render_photo(year: int, seed: int, size: tuple[int, int] = (320, 240), sitting: int = 0) -> Image.Image:
    """A synthetic RGB photograph of the given year; deterministic for (year, seed, size, sitting).

    `sitting` > 0 gives another photograph taken in the same place by the same studio: the same print
    look, backdrop or sky and ground, with other sitters or other buildings: a look-alike, not a copy.

    >>> render_photo(1870, 1).mode
    'RGB'
    """
    w, h = int(size[0]), int(size[1])
    if w < 16 or h < 16:
        raise ValueError(f"render_photo needs at least 16x16 pixels, got {w}x{h}")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(year) & 0xFFFF, w, h])
    look = era_look(int(year), rng)
    xs, ys = _grid(w, h)
    img = np.empty((h, w, 3), np.float32)
    detail = rng if sitting == 0 else np.random.default_rng([int(seed) & 0xFFFFFFFF, int(year) & 0xFFFF, w, h, sitting])
    (_portrait if look.portrait else _street)(img, rng, xs, ys, detail, Dress.of(year, seed, w, h, sitting))
    img *= (1.0 + 0.15 * xs * rng.uniform(-1, 1))[..., None]  # light from one side
    img += _smooth_noise(rng, w, h, 24)[..., None] * 0.04  # surface texture
    img = _develop(img, look, rng, xs, ys)
    _damage(img, rng, year)
    _border(img, look, rng)
    np.clip(img, 0.0, 1.0, out=img)
    img *= 255.0
    img += 0.5
    out = Image.fromarray(img.astype(np.uint8), "RGB")
    if look.soft:
        out = out.resize((w // 2, h // 2), Image.Resampling.BILINEAR).resize((w, h), Image.Resampling.BILINEAR)
    return out


MOUNTS = ("card", "bed", "black_bed")


def mount_print(picture: Image.Image, mount: str, margins: tuple[int, int, int, int], seed: int) -> Image.Image:
    """The whole print as scanned on its card mount ("card") or on a scanner bed, uncut.

    `margins` (left, top, right, bottom) in pixels of the ground around the print. A card is a flat
    tinted board with fibre texture and an embossed rule around the print; a scanner bed is a flat
    white lid ("bed") or a black one ("black_bed"). The print's pixels are not touched, so trimming
    the ground gives it back.
    """
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 7])
    left, top, right, bottom = margins
    w, h = picture.width + left + right, picture.height + top + bottom
    if mount == "card":
        colour, texture = CARD_COLOURS[int(rng.integers(0, len(CARD_COLOURS)))] * rng.uniform(0.85, 1.05), 0.02
    elif mount in ("bed", "black_bed"):
        colour, texture = np.full(3, (0.96 if mount == "bed" else 0.06) * rng.uniform(0.97, 1.03), np.float32), 0.006
    else:
        raise ValueError(f"unknown mount {mount!r}: expected one of {', '.join(MOUNTS)}")
    ground = colour + rng.normal(0, texture, (h, w, 1)).astype(np.float32)
    if mount == "card" and min(margins) > 4:
        ground[top - 3, left - 3 : w - right + 3] *= 0.7  # the embossed rule around the print
        ground[h - bottom + 2, left - 3 : w - right + 3] *= 0.7
    out = Image.fromarray((np.clip(ground, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), "RGB")
    out.paste(picture, (left, top))
    return out
