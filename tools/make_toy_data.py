"""Write the toy domain-shift benchmark: synthetic road scenes (source) and a shifted target domain.

    python tools/make_toy_data.py --out data/toy [--seed 0] [--num-train 400] [--num-val 100]
                                  [--height 128 --width 256] [--workers 1] [--force]
                                  [--shift default|night|fog|sensor|jpeg|geometry|colour]
                                  [--severity 1|2|3]

Layout (Cityscapes-like, one folder per domain, ``ToyCityDataset`` reads it)::

    data/toy/meta.json                                   written last: marks a complete directory
    data/toy/{source,target}/images/{train,val}/NNNNN.png   RGB
    data/toy/{source,target}/labels/{train,val}/NNNNN.png   uint8 train ids, 255 = ignore
    data/toy/{source,target}/sample_class_stats.json     rare-class-sampling statistics (train)
    data/toy/{source,target}/samples_with_class.json

Scenes come from one pinhole camera 1.3 m above a flat street: the road and its sidewalks and
grass verges converge to a vanishing point, facades (buildings with windows, tree lines) stand
along both sides and at the far end, sky above; cars, persons, poles and traffic signs stand on the
ground plane and are drawn far to near. 255 marks the ego car's bonnet, unlabelled clutter
(bins) and the outline of some cars and persons. Both domains share these layout priors; the
target has more cars and trees, other colours (hues shifted per class), other textures (window
grid, paving, foliage grain), dusk illumination, and weather, blur and sensor noise applied with
albumentations. Every image has its own seed, derived from (seed, domain, split, index), so a run
is byte-identical with the same seed and package versions, whatever ``--workers``.

``--shift`` chooses the target domain from a family (``SHIFTS``): ``default`` is the target above;
``night``, ``fog``, ``sensor`` (colour filter array, noise, white balance), ``jpeg``, ``geometry``
(zoom, roll, keystone; labels follow) and ``colour`` (hue, saturation, channel gains) render the
target scenes in the source style and apply one shift, at ``--severity`` 1, 2 or 3. The source
domain and the target scenes are the same for every shift, so a benchmark over shifts trains one
source model and compares shifts on the same images.
"""
import argparse
import colorsys
import json
import math
import os
import os.path as osp
import re
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple

os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')  # no network: skip its version check

import albumentations as A  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmsfda.datasets.class_stats import compute_class_stats, write_class_stats  # noqa: E402
from mmsfda.datasets.toy_city import ToyCityDataset  # noqa: E402

# Bump when the generated pixels change: a directory written by another version is regenerated.
GENERATOR_VERSION = 2

CLASSES: Tuple[str, ...] = tuple(ToyCityDataset.METAINFO['classes'])
(ROAD, SIDEWALK, BUILDING, POLE, SIGN, VEGETATION, TERRAIN, SKY, PERSON, CAR) = (
    CLASSES.index(n) for n in ('road', 'sidewalk', 'building', 'pole', 'traffic sign',
                               'vegetation', 'terrain', 'sky', 'person', 'car'))
NUM_CLASSES = len(CLASSES)
IGNORE = 255
DOMAINS = ('source', 'target')
SPLITS = ('train', 'val')

CAM_HEIGHT = 1.3  # metres
FOCAL = 0.8  # focal length in image widths
Colour = Tuple[float, float, float]


# --------------------------------------------------------------------------------------------
# Domain styles: what differs between source and target. Colours are RGB in [0, 255].
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Style:
    road: Colour = (95, 95, 100)
    lane_mark: Colour = (225, 225, 215)
    sidewalk: Colour = (172, 150, 160)
    terrain: Colour = (150, 175, 95)
    vegetation: Colour = (70, 112, 42)
    sky_top: Colour = (80, 135, 210)
    sky_bottom: Colour = (185, 210, 235)
    cloud: Colour = (240, 240, 245)
    pole: Colour = (125, 125, 130)
    window: Colour = (55, 65, 85)
    lit_window: Colour = (230, 210, 140)
    buildings: Tuple[Colour, ...] = ((150, 140, 130), (118, 110, 105), (165, 118, 92),
                                     (100, 100, 112), (188, 176, 150))
    cars: Tuple[Colour, ...] = ((180, 32, 32), (32, 52, 150), (228, 228, 228), (32, 32, 34),
                                (150, 150, 156), (45, 100, 62), (200, 160, 40))
    glass: Colour = (40, 50, 62)
    signs: Tuple[Tuple[Colour, Colour], ...] = (((200, 30, 30), (240, 240, 240)),
                                               ((30, 70, 180), (235, 235, 235)),
                                               ((235, 190, 20), (30, 30, 30)))
    skins: Tuple[Colour, ...] = ((232, 190, 160), (190, 140, 110), (120, 85, 60))
    clothes: Tuple[Colour, ...] = ((200, 40, 40), (40, 60, 160), (230, 230, 225), (40, 40, 40),
                                   (60, 130, 70), (220, 180, 40), (120, 70, 150))
    # textures (sizes in metres for world-space patterns, in pixels at width 256 for noise)
    floor_height: float = 3.0
    window_spacing: float = 2.6
    window_frac: Tuple[float, float] = (0.45, 0.5)  # window width / spacing, height / floor
    lit_window_prob: float = 0.05
    tile_size: float = 0.8
    road_grain: float = 1.2
    road_grain_amp: float = 0.10
    foliage_grain: float = 2.5
    foliage_amp: float = 0.35
    terrain_grain: Tuple[float, float] = (1.0, 4.0)  # (y, x): horizontal streaks
    terrain_amp: float = 0.22
    facade_grain_amp: float = 0.06
    # scene statistics
    car_rate: float = 2.2  # mean cars driving on the road
    parked_car_rate: float = 2.0  # mean parked cars per image
    person_rate: float = 3.5
    tree_prob: float = 0.3  # share of facade segments that are tree lines
    # illumination and corruptions
    brightness: float = 1.0
    tint: Colour = (1.0, 1.0, 1.0)
    vignette: float = 0.0
    corrupt: bool = False


def _shift(colour: Colour, hue_deg: float, sat_add: float = 0.0, val_mul: float = 1.0) -> Colour:
    """Rotate the hue of an RGB colour, add saturation and scale its value."""
    h, s, v = colorsys.rgb_to_hsv(*(c / 255.0 for c in colour))
    h = (h + hue_deg / 360.0) % 1.0
    s = min(1.0, max(0.0, s + sat_add))
    v = min(1.0, v * val_mul)
    return tuple(round(c * 255.0, 1) for c in colorsys.hsv_to_rgb(h, s, v))


def _make_target_style(src: Style, k: float) -> Style:
    """The shifted domain: other colours, textures and light, more cars and trees.

    ``k`` scales the colour and light shift: 0 keeps the source palette, 1 is a strong shift
    (violet dusk sky, autumn foliage, teal buildings) that a source model does not survive.
    The texture changes and the scene statistics do not depend on it.
    """

    def shift(colour, hue_deg, sat_add=0.0, val_mul=1.0):
        return _shift(colour, k * hue_deg, k * sat_add, 1 + k * (val_mul - 1))

    def towards(colour, other):
        return tuple(round(a + k * (b - a), 1) for a, b in zip(colour, other))

    return replace(
        src,
        road=towards(src.road, (78, 84, 112)),  # bluish tarmac
        lane_mark=towards(src.lane_mark, (240, 200, 60)),  # yellow markings
        sidewalk=shift(src.sidewalk, 120, 0.05, 0.95),  # greenish grey paving
        terrain=shift(src.terrain, -55, 0.10, 0.95),  # dry, brown verges
        vegetation=shift(src.vegetation, -60, 0.05, 1.3),  # autumn foliage
        sky_top=shift(src.sky_top, 65, -0.25, 0.95),  # overcast dusk
        sky_bottom=shift(src.sky_bottom, 150, 0.10, 0.95),
        cloud=towards(src.cloud, (205, 195, 215)),
        pole=towards(src.pole, (95, 110, 90)),
        window=towards(src.window, (120, 110, 80)),
        lit_window=towards(src.lit_window, (255, 235, 160)),
        buildings=tuple(shift(c, 170, 0.15, 0.95) for c in src.buildings),
        cars=tuple(shift(c, 100, 0.0, 0.95) for c in src.cars),
        glass=towards(src.glass, (70, 60, 45)),
        signs=tuple((shift(a, 40, 0, 0.95), shift(b, 40, 0.2, 0.9)) for a, b in src.signs),
        clothes=tuple(shift(c, 150, 0.0, 0.9) for c in src.clothes),
        brightness=1 - 0.2 * k,
        tint=towards(src.tint, (1.05, 0.92, 0.95)),
        vignette=0.35 * k,
        # textures
        floor_height=3.6,
        window_spacing=1.7,
        window_frac=(0.65, 0.3),
        lit_window_prob=0.35,
        tile_size=0.45,
        road_grain=2.5,
        road_grain_amp=0.16,
        foliage_grain=5.0,
        foliage_amp=0.25,
        terrain_grain=(3.0, 1.2),  # vertical tufts instead of streaks
        terrain_amp=0.30,
        facade_grain_amp=0.12,
        # scene statistics
        car_rate=3.8,
        parked_car_rate=3.0,
        person_rate=3.0,
        tree_prob=0.45,
        corrupt=True,
    )


# Measured with a 6-layer FCN trained from scratch on source train (1200 iterations, 64x128
# inputs, flips only): source val 76 mIoU; target val 51 at k=0 (textures, weather, blur, noise
# only), 42 at 0.2, 38 at 0.25, 28 at 0.35, 17 at 0.5, 8 at 1. 0.25 leaves a large gap (about
# 38 mIoU) and a source model that gets the big classes half right: a start for self-training.
TARGET_SHIFT = 0.25
SOURCE_STYLE = Style()
TARGET_STYLE = _make_target_style(SOURCE_STYLE, TARGET_SHIFT)

CORRUPTIONS = ('RandomFog', 'RandomRain', 'GaussianBlur', 'MotionBlur', 'GaussNoise',
               'RandomBrightnessContrast', 'HueSaturationValue')


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------
def _noise(rng: np.random.Generator, h: int, w: int, cell_y: float, cell_x: float) -> np.ndarray:
    """Smooth value noise in [-1, 1] (bicubic upsampling of a random grid), [h, w] float32."""
    gh = max(2, int(math.ceil(h / max(cell_y, 0.5))) + 1)
    gw = max(2, int(math.ceil(w / max(cell_x, 0.5))) + 1)
    grid = rng.uniform(-1.0, 1.0, (gh, gw)).astype(np.float32)
    return np.clip(cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC), -1.0, 1.0)


def _frac(a: np.ndarray) -> np.ndarray:
    return a - np.floor(a)


@dataclass
class Canvas:
    """The image and label being painted, the camera and the painting helpers."""
    h: int
    w: int
    horizon: float
    vanish_x: float
    img: np.ndarray = field(init=False)  # [h, w, 3] float32 RGB in [0, 255]
    label: np.ndarray = field(init=False)  # [h, w] uint8 train ids
    instance: np.ndarray = field(init=False)  # [h, w] int32, 0 = stuff

    def __post_init__(self):
        self.img = np.zeros((self.h, self.w, 3), np.float32)
        self.label = np.full((self.h, self.w), SKY, np.uint8)
        self.instance = np.zeros((self.h, self.w), np.int32)
        self.f = FOCAL * self.w
        self.scale = self.w / 256.0  # texture sizes are given for 256-pixel-wide images

    def project(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> Tuple[np.ndarray, ...]:
        """World (x right, y up from the ground, z forward; metres) to pixel (u, v)."""
        z = np.maximum(z, 0.5)
        return self.vanish_x + self.f * x / z, self.horizon + self.f * (CAM_HEIGHT - y) / z

    def paint(self, mask: np.ndarray, cls: int, colour, instance: int = 0,
              box: Optional[Tuple[int, int, int, int]] = None) -> None:
        """Paint class ``cls`` and ``colour`` (RGB or [n, 3] per masked pixel) where ``mask``."""
        sl = np.s_[:, :] if box is None else np.s_[box[1]:box[3], box[0]:box[2]]
        self.label[sl][mask] = cls
        self.img[sl][mask] = colour
        self.instance[sl][mask] = instance


def _polygon_mask(canvas: Canvas, polys: Sequence[np.ndarray]):
    """Rasterise convex polygons ([n, 2] pixel coords) into a mask over their clipped bounding box.

    Returns ``(mask, box)`` with ``box = (x0, y0, x1, y1)``, or ``None`` if nothing is visible.
    """
    pts = np.concatenate(polys)
    x0, y0 = np.floor(pts.min(0)).astype(int)
    x1, y1 = np.ceil(pts.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, canvas.w), min(y1, canvas.h)
    if x1 <= x0 or y1 <= y0:
        return None
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for p in polys:
        q = np.round((p - (x0, y0)) * 16).astype(np.int32)
        cv2.fillConvexPoly(mask, q, 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool), (x0, y0, x1, y1)


def _box_hull(canvas: Canvas, x0, x1, y0, y1, z0, z1) -> np.ndarray:
    """Convex hull (pixels) of the projection of an axis-aligned 3D box."""
    xs, ys, zs = np.meshgrid([x0, x1], [y0, y1], [z0, z1], indexing='ij')
    u, v = canvas.project(xs.ravel(), ys.ravel(), zs.ravel())
    pts = np.stack([u, v], 1).astype(np.float32)
    return cv2.convexHull(pts).reshape(-1, 2)


@dataclass
class Street:
    """Lateral layout in metres (x < 0 left of the camera) and the far end of the street."""
    road: Tuple[float, float]
    walk: Tuple[float, float]  # sidewalk widths (left, right)
    verge: Tuple[float, float]  # grass verge widths (left, right), 0 = none
    far: float  # depth of the buildings closing the street

    @property
    def facade(self) -> Tuple[float, float]:
        return (self.road[0] - self.walk[0] - self.verge[0],
                self.road[1] + self.walk[1] + self.verge[1])


def _sample_street(rng: np.random.Generator) -> Street:
    verge = tuple(float(rng.uniform(1.0, 5.0)) if rng.random() < 0.55 else 0.0 for _ in range(2))
    return Street(road=(-float(rng.uniform(3.0, 5.5)), float(rng.uniform(2.5, 5.0))),
                  walk=(float(rng.uniform(2.0, 4.0)), float(rng.uniform(2.0, 4.0))),
                  verge=verge, far=float(rng.uniform(60.0, 140.0)))


def _paint_sky(c: Canvas, st: Style, rng) -> None:
    t = np.clip(np.arange(c.h, dtype=np.float32) / max(c.horizon, 1.0), 0, 1)[:, None, None]
    sky = (1 - t) * np.array(st.sky_top, np.float32) + t * np.array(st.sky_bottom, np.float32)
    clouds = np.clip(_noise(rng, c.h, c.w, 10 * c.scale, 28 * c.scale) * 1.6 - 0.4, 0, 1)
    cover = rng.uniform(0.0, 0.9)
    sky = sky + (clouds * cover)[..., None] * (np.array(st.cloud, np.float32) - sky)
    c.paint(np.ones((c.h, c.w), bool), SKY, sky.reshape(-1, 3))


def _paint_ground(c: Canvas, st: Style, street: Street, rng) -> None:
    rows = np.arange(c.h, dtype=np.float32) + 0.5
    below = rows > c.horizon + 0.5
    if not below.any():
        return
    r0 = int(np.argmax(below))
    v = rows[r0:, None]
    u = np.arange(c.w, dtype=np.float32)[None, :] + 0.5
    z = c.f * CAM_HEIGHT / (v - c.horizon) * np.ones_like(u)  # depth of each ground pixel
    x = (u - c.vanish_x) * z / c.f
    h = c.h - r0
    (rl, rr), (wl, wr), (gl, gr) = street.road, street.walk, street.verge
    img = np.empty((h, c.w, 3), np.float32)
    lab = np.full((h, c.w), BUILDING, np.uint8)  # behind the facades: hidden by them

    road = (x >= rl) & (x <= rr)
    grain = 1 + st.road_grain_amp * _noise(rng, h, c.w, st.road_grain * c.scale,
                                           st.road_grain * c.scale)
    patches = 1 + 0.08 * _noise(rng, h, c.w, 12 * c.scale, 30 * c.scale)
    img[:] = (np.array(st.road, np.float32) * (grain * patches)[..., None])
    # lane markings: dashed centre line(s) and solid edge lines, painted on the road class
    width_m = 0.15
    marks = (np.abs(x - (rl + 0.25)) < width_m / 2) | (np.abs(x - (rr - 0.25)) < width_m / 2)
    lanes = max(1, int(round((rr - rl) / 3.3)))
    for k in range(1, lanes):
        xm = rl + k * (rr - rl) / lanes
        marks |= (np.abs(x - xm) < width_m / 2) & (_frac(z / 9.0) < 0.4)
    marks &= road & (rng.random() < 0.85)
    img[marks] = st.lane_mark
    lab[road] = ROAD

    left_walk = (x < rl) & (x >= rl - wl)
    right_walk = (x > rr) & (x <= rr + wr)
    walk = left_walk | right_walk
    xs = np.where(x < 0, rl - x, x - rr)  # metres from the kerb
    tile = st.tile_size
    joints = (_frac(xs / tile) < 0.08) | (_frac(z / tile) < 0.08)
    kerb = xs < 0.25
    tex = 1 + 0.06 * _noise(rng, h, c.w, 1.5 * c.scale, 1.5 * c.scale) - 0.22 * joints + 0.15 * kerb
    img[walk] = (np.array(st.sidewalk, np.float32) * tex[..., None])[walk]
    lab[walk] = SIDEWALK

    verge = ((x < rl - wl) & (x >= rl - wl - gl)) | ((x > rr + wr) & (x <= rr + wr + gr))
    gy, gx = st.terrain_grain
    tex = 1 + st.terrain_amp * _noise(rng, h, c.w, gy * c.scale, gx * c.scale)
    img[verge] = (np.array(st.terrain, np.float32) * tex[..., None])[verge]
    lab[verge] = TERRAIN

    c.label[r0:] = lab
    c.img[r0:] = img


def _facade_segments(rng, st: Style, far: float) -> List[dict]:
    """Buildings and tree lines along one side of the street, near to far, in metres."""
    segs, z = [], 0.5
    while z < far:
        length = float(rng.uniform(8.0, 28.0))
        if rng.random() < st.tree_prob:
            segs.append(dict(kind=VEGETATION, z0=z, z1=z + length,
                             height=float(rng.uniform(4.0, 10.0))))
        else:
            colour = np.array(st.buildings[rng.integers(len(st.buildings))], np.float32)
            colour = colour * rng.uniform(0.85, 1.12)
            segs.append(dict(kind=BUILDING, z0=z, z1=z + length, colour=colour,
                             height=float(rng.uniform(7.0, 28.0)),
                             offset=float(rng.uniform(0, st.window_spacing)),
                             salt=int(rng.integers(1 << 30))))
        z += length
    return segs


def _paint_facades(c: Canvas, st: Style, street: Street, rng) -> None:
    u = np.arange(c.w, dtype=np.float32) + 0.5
    v = np.arange(c.h, dtype=np.float32)[:, None] + 0.5
    foliage = 1 + st.foliage_amp * _noise(rng, c.h, c.w, st.foliage_grain * c.scale,
                                          st.foliage_grain * c.scale)
    foliage2 = 1 + 0.5 * st.foliage_amp * _noise(rng, c.h, c.w, 9 * c.scale, 9 * c.scale)
    plaster = 1 + st.facade_grain_amp * _noise(rng, c.h, c.w, 1.2 * c.scale, 1.2 * c.scale)
    crown = _noise(rng, 1, c.w, 1, 3 * c.scale)[0] * 1.2  # ragged tree tops, metres
    wf, hf = st.window_frac

    # Depth of each column on the facade planes; columns deeper than the far end see the far end.
    zcol = np.full(c.w, np.inf, np.float32)
    side = np.zeros(c.w, np.int8)
    dx = u - c.vanish_x
    for s, xf in ((-1, street.facade[0]), (1, street.facade[1])):
        on = (np.sign(dx) == s) & (np.abs(dx) > 1e-3)
        zcol[on] = c.f * xf / dx[on]
        side[on] = s
    for s in (-1, 1):
        cols = np.flatnonzero((side == s) & (zcol < street.far))
        if cols.size == 0:
            continue
        for seg in _facade_segments(rng, st, street.far):
            sel = cols[(zcol[cols] >= seg['z0']) & (zcol[cols] < seg['z1'])]
            if sel.size == 0:
                continue
            z = zcol[sel][None, :]
            y = CAM_HEIGHT - (v - c.horizon) * z / c.f  # height on the facade of each pixel
            if seg['kind'] == VEGETATION:
                on = (y >= 0) & (y <= seg['height'] + crown[sel][None, :])
                colour = np.array(st.vegetation, np.float32)[None, None] * \
                    (foliage[:, sel] * foliage2[:, sel])[..., None]
                cls = VEGETATION
            else:
                on = (y >= 0) & (y <= seg['height'])
                along = (z - seg['z0'] + seg['offset']) / st.window_spacing
                window = (_frac(along) < wf) & (_frac(y / st.floor_height) > 1 - hf - 0.15) & \
                    (_frac(y / st.floor_height) < 0.85) & (y > st.floor_height) & \
                    (y < seg['height'] - 0.8)
                colour = seg['colour'][None, None] * plaster[:, sel][..., None]
                colour = np.broadcast_to(colour, (c.h, sel.size, 3)).copy()
                # whole windows are lit: a hash of (window column, floor) picks them
                key = (np.floor(along).astype(np.int64) * 73856093) ^ \
                    (np.floor(y / st.floor_height).astype(np.int64) * 19349663) ^ seg['salt']
                lit = (key % 1000) < 1000 * st.lit_window_prob
                colour[window] = np.array(st.window, np.float32)
                colour[window & lit] = np.array(st.lit_window, np.float32)
                cls = BUILDING
            colour = np.broadcast_to(colour, (c.h, sel.size, 3))
            sub_l = c.label[:, sel]
            sub_i = c.img[:, sel]
            sub_l[on] = cls
            sub_i[on] = colour[on]
            c.label[:, sel] = sub_l
            c.img[:, sel] = sub_i

    # The far end of the street: a row of buildings and trees across at depth `far`.
    far_cols = np.flatnonzero(zcol >= street.far)
    if far_cols.size:
        z = street.far
        heights = np.zeros(c.w, np.float32)
        kinds = np.zeros(c.w, np.uint8)
        colours = np.zeros((c.w, 3), np.float32)
        x = 0
        while x < c.w:
            n = int(rng.integers(max(2, c.w // 25), max(3, c.w // 6)))
            if rng.random() < st.tree_prob:
                kinds[x:x + n], heights[x:x + n] = VEGETATION, rng.uniform(5, 12)
                colours[x:x + n] = st.vegetation
            else:
                kinds[x:x + n], heights[x:x + n] = BUILDING, rng.uniform(6, 35)
                colours[x:x + n] = np.array(st.buildings[rng.integers(len(st.buildings))]) * \
                    rng.uniform(0.8, 1.1)
            x += n
        y = CAM_HEIGHT - (v - c.horizon) * z / c.f
        top = heights + np.where(kinds == VEGETATION, crown, 0)
        on = (y >= 0) & (y <= top[None, :])
        on[:, np.setdiff1d(np.arange(c.w), far_cols)] = False
        haze = 0.75  # distant: washed out towards the sky colour
        colour = (colours[None] * np.where(kinds == VEGETATION, foliage, plaster)[..., None])
        colour = haze * colour + (1 - haze) * np.array(st.sky_bottom, np.float32)
        lab = np.broadcast_to(kinds[None, :], on.shape)
        c.label[on] = lab[on]
        c.img[on] = colour[on]


def _paint_car(c: Canvas, st: Style, rng, x: float, z: float, inst: int) -> None:
    """A car as two stacked boxes (body and cabin), its centre of rear face at (x, z)."""
    w, length = rng.uniform(1.65, 1.95), rng.uniform(3.9, 4.7)
    h_body, h_cab = rng.uniform(0.85, 1.05), rng.uniform(0.45, 0.65)
    x0, x1, z0, z1 = x - w / 2, x + w / 2, z, z + length
    body = _box_hull(c, x0, x1, 0.0, h_body, z0, z1)
    cab = _box_hull(c, x0 + 0.12, x1 - 0.12, h_body, h_body + h_cab, z0 + 0.2 * length,
                    z1 - 0.25 * length)
    glass = _box_hull(c, x0 + 0.2, x1 - 0.2, h_body + 0.07, h_body + h_cab - 0.07,
                      z0 + 0.2 * length - 0.01, z1 - 0.25 * length)
    got = _polygon_mask(c, [body, cab])
    if got is None:
        return
    mask, box = got
    x_0, y_0, x_1, y_1 = box
    colour = np.array(st.cars[rng.integers(len(st.cars))], np.float32) * rng.uniform(0.85, 1.1)
    hh, ww = mask.shape
    rows = np.linspace(0, 1, hh, dtype=np.float32)[:, None]
    shade = 1.15 - 0.35 * rows  # light from above
    tex = np.broadcast_to((colour[None, None] * shade[..., None]), (hh, ww, 3)).copy()
    gm = _polygon_mask(c, [glass])
    if gm is not None:
        gmask, gbox = gm
        sub = np.zeros_like(mask)
        sub[gbox[1] - y_0:gbox[3] - y_0, gbox[0] - x_0:gbox[2] - x_0] = gmask
        tex[sub] = np.array(st.glass, np.float32) * rng.uniform(0.8, 1.3)
    # dark band low on the body: bumper, wheels and the shadow under the car
    _, v_low = c.project(np.array(0.0), np.array(0.3), np.array(z0))
    low = (np.arange(y_0, y_1)[:, None] >= v_low) & mask
    tex[low] *= 0.35
    c.paint(mask, CAR, tex[mask], inst, box)


def _paint_person(c: Canvas, st: Style, rng, x: float, z: float, inst: int) -> None:
    """A standing or walking person (head, torso, arms, two legs) with feet at (x, z)."""
    height = rng.uniform(1.55, 1.92)
    u, v_top = c.project(np.array(x), np.array(height), np.array(z))
    _, v_bot = c.project(np.array(x), np.array(0.0), np.array(z))
    ph = float(v_bot - v_top)
    if ph < 3:
        return
    pw = ph * 0.42
    x0, y0 = int(math.floor(u - pw / 2)), int(math.floor(v_top))
    x1, y1 = int(math.ceil(u + pw / 2)) + 1, int(math.ceil(v_bot)) + 1
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, c.w), min(y1, c.h)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    sub = 4  # drawn at 4x and area-downsampled, so that small people keep their shape
    parts = np.zeros(((y1 - y0) * sub, (x1 - x0) * sub), np.uint8)  # 1 skin, 2 shirt, 3 trousers
    ox, oy = (u - x0) * sub, (v_top - y0) * sub
    s = ph * sub

    def pt(a, b):
        return int(round(ox + a * s)), int(round(oy + b * s))

    stride = rng.uniform(-0.09, 0.09)
    cv2.rectangle(parts, pt(-0.075 + stride, 0.52), pt(-0.015 + stride, 1.0), 3, -1)
    cv2.rectangle(parts, pt(0.015 - stride, 0.52), pt(0.075 - stride, 1.0), 3, -1)
    cv2.ellipse(parts, pt(0, 0.36), (max(1, int(0.11 * s)), max(1, int(0.2 * s))), 0, 0, 360, 2,
                -1)
    cv2.rectangle(parts, pt(-0.15, 0.19), pt(-0.1, 0.5), 2, -1)
    cv2.rectangle(parts, pt(0.1, 0.19), pt(0.15, 0.5), 2, -1)
    cv2.circle(parts, pt(0, 0.075), max(1, int(0.07 * s)), 1, -1)
    small = cv2.resize((parts > 0).astype(np.float32), (x1 - x0, y1 - y0),
                       interpolation=cv2.INTER_AREA) >= 0.5
    part = cv2.resize(parts, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    small = small[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
    part = part[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
    if not small.any():
        return
    palette = np.array([[0, 0, 0], st.skins[rng.integers(len(st.skins))],
                        st.clothes[rng.integers(len(st.clothes))],
                        np.array(st.clothes[rng.integers(len(st.clothes))]) * 0.45], np.float32)
    tex = palette[part] * rng.uniform(0.85, 1.1)
    tex[part == 0] = palette[2]  # shoulders and limbs lost in the downscale
    c.paint(small, PERSON, tex[small], inst, (cx0, cy0, cx1, cy1))


def _paint_pole(c: Canvas, st: Style, rng, x: float, z: float, inst: int) -> None:
    """A pole (lamp or sign post), and on about half of them a traffic sign facing the camera."""
    height, radius = rng.uniform(3.5, 8.0), rng.uniform(0.07, 0.12)
    u0, v_top = c.project(np.array(x - radius), np.array(height), np.array(z))
    u1, v_bot = c.project(np.array(x + radius), np.array(0.0), np.array(z))
    if u1 - u0 < 0.7:  # keep far poles at least one pixel wide where they are visible
        mid = (u0 + u1) / 2
        u0, u1 = mid - 0.5, mid + 0.5
    poly = np.array([[u0, v_top], [u1, v_top], [u1, v_bot], [u0, v_bot]], np.float32)
    got = _polygon_mask(c, [poly])
    if got is not None:
        mask, box = got
        ww = box[2] - box[0]
        shade = 0.75 + 0.5 * np.linspace(0, 1, ww, dtype=np.float32)[None, :]  # cylinder
        tex = np.array(st.pole, np.float32)[None, None] * shade[..., None] * \
            np.ones((mask.shape[0], 1, 1), np.float32)
        c.paint(mask, POLE, tex[mask], inst, box)
    if rng.random() < 0.55:
        size = rng.uniform(0.6, 0.9)
        ys = rng.uniform(2.2, min(3.2, height - size))
        cu, cv_ = c.project(np.array(x), np.array(ys + size / 2), np.array(z - 0.05))
        r = c.f * size / 2 / z
        if r < 0.6:
            return
        outer, inner = st.signs[rng.integers(len(st.signs))]
        shape = rng.integers(3)  # disc, triangle, square
        n = 4 if r < 3 else 8
        w_ = int(2 * r + 3)
        x0, y0 = int(math.floor(cu - r - 1)), int(math.floor(cv_ - r - 1))
        big = np.zeros((w_ * n, w_ * n), np.uint8)
        ctr = ((cu - x0) * n, (cv_ - y0) * n)
        rr = r * n

        def draw(val, scale):
            if shape == 0:
                cv2.circle(big, (int(ctr[0]), int(ctr[1])), max(1, int(rr * scale)), val, -1)
            else:
                k = 3 if shape == 1 else 4
                ang = np.arange(k) * 2 * np.pi / k + (-np.pi / 2 if k == 3 else np.pi / 4)
                p = np.stack([ctr[0] + rr * scale * np.cos(ang),
                              ctr[1] + rr * scale * np.sin(ang)], 1)
                cv2.fillConvexPoly(big, np.round(p).astype(np.int32), val)

        draw(1, 1.0)
        draw(2, 0.62)
        area = cv2.resize((big > 0).astype(np.float32), (w_, w_), interpolation=cv2.INTER_AREA)
        part = cv2.resize(big, (w_, w_), interpolation=cv2.INTER_NEAREST)
        mask = area >= 0.5
        bx0, by0 = max(x0, 0), max(y0, 0)
        bx1, by1 = min(x0 + w_, c.w), min(y0 + w_, c.h)
        if bx1 <= bx0 or by1 <= by0:
            return
        mask = mask[by0 - y0:by1 - y0, bx0 - x0:bx1 - x0]
        part = part[by0 - y0:by1 - y0, bx0 - x0:bx1 - x0]
        tex = np.where((part == 2)[..., None], np.array(inner, np.float32),
                       np.array(outer, np.float32))
        if mask.any():
            c.paint(mask, SIGN, tex[mask], inst, (bx0, by0, bx1, by1))


def _paint_clutter(c: Canvas, rng, x: float, z: float) -> None:
    """An unlabelled object (bin, box, bollard): ignore (255) in the label."""
    w, h = rng.uniform(0.4, 0.9), rng.uniform(0.6, 1.2)
    hull = _box_hull(c, x - w / 2, x + w / 2, 0, h, z, z + w)
    got = _polygon_mask(c, [hull])
    if got is None:
        return
    mask, box = got
    colour = rng.uniform(30, 200, 3).astype(np.float32)
    c.paint(mask, IGNORE, colour, -1, box)


def _log_uniform(rng, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def render_scene(rng: np.random.Generator, h: int, w: int, st: Style):
    """Draw one scene. Returns ``(img [h, w, 3] uint8 RGB, label [h, w] uint8)``."""
    c = Canvas(h, w, horizon=h * float(rng.uniform(0.36, 0.5)),
               vanish_x=w * float(rng.uniform(0.38, 0.62)))
    street = _sample_street(rng)
    _paint_sky(c, st, rng)
    _paint_ground(c, st, street, rng)
    _paint_facades(c, st, street, rng)

    # Things on the ground plane, drawn far to near: (depth, kind, x).
    (rl, rr), (wl, wr) = street.road, street.walk
    things, cars = [], []
    lanes = max(1, int(round((rr - rl) / 3.3)))
    for _ in range(rng.poisson(st.car_rate)):
        x = rl + (rng.integers(lanes) + 0.5) * (rr - rl) / lanes + rng.normal(0, 0.3)
        cars.append((_log_uniform(rng, 5.0, street.far * 0.8), x))
    for _ in range(rng.poisson(st.parked_car_rate)):
        x = (rl + 1.1) if rng.random() < 0.5 else (rr - 1.1)
        cars.append((_log_uniform(rng, 4.0, 60.0), x + rng.normal(0, 0.1)))
    for i, (z, x) in enumerate(cars):  # cars do not overlap: drop one too close to an earlier one
        if all(abs(x - x2) > 2.1 or abs(z - z2) > 5.5 for z2, x2 in cars[:i]):
            things.append((z, 'car', x))
    for _ in range(rng.poisson(st.person_rate)):
        s = rng.integers(2)
        if rng.random() < 0.1:  # crossing the road
            x = rng.uniform(rl, rr)
        else:
            x = rl - rng.uniform(0.4, wl - 0.3) if s == 0 else rr + rng.uniform(0.4, wr - 0.3)
        things.append((_log_uniform(rng, 4.0, 50.0), 'person', x))
    for s in range(2):
        if rng.random() < 0.8:
            z = rng.uniform(4.0, 20.0)
            while z < street.far * 0.8:
                x = (rl - 0.45) if s == 0 else (rr + 0.45)
                things.append((z, 'pole', x))
                z += rng.uniform(12.0, 35.0)
    for _ in range(rng.poisson(0.6)):
        s = rng.integers(2)
        x = rl - rng.uniform(0.5, wl) if s == 0 else rr + rng.uniform(0.5, wr)
        things.append((rng.uniform(5.0, 40.0), 'clutter', x))
    things.sort(key=lambda t: -t[0])
    for inst, (z, kind, x) in enumerate(things, start=1):
        if kind == 'car':
            _paint_car(c, st, rng, x, z, inst)
        elif kind == 'person':
            _paint_person(c, st, rng, x, z, inst)
        elif kind == 'pole':
            _paint_pole(c, st, rng, x, z, inst)
        else:
            _paint_clutter(c, rng, x, z)

    # Ignore the 1-pixel outline of about a third of the cars and persons, as annotators do.
    inst = c.instance
    edge = np.zeros_like(inst, dtype=bool)
    edge[:, 1:] |= inst[:, 1:] != inst[:, :-1]
    edge[:, :-1] |= inst[:, :-1] != inst[:, 1:]
    edge[1:] |= inst[1:] != inst[:-1]
    edge[:-1] |= inst[:-1] != inst[1:]
    outlined = [i for i in range(1, len(things) + 1) if rng.random() < 0.3]
    edge &= np.isin(inst, outlined) & np.isin(c.label, (CAR, PERSON))
    c.label[edge] = IGNORE

    # The ego car's bonnet at the bottom: unlabelled, as in Cityscapes.
    if rng.random() < 0.6:
        hood = rng.uniform(0.03, 0.08) * h
        xs = (np.arange(w) + 0.5 - w / 2) / (w / 2)
        top = h - hood + hood * 0.6 * xs ** 2
        on = (np.arange(h)[:, None] + 0.5) >= top[None, :]
        bonnet = np.array((40, 40, 45), np.float32) * (1 + 0.4 * (1 - xs ** 2))[None, :, None]
        c.paint(on, IGNORE, np.broadcast_to(bonnet, (h, w, 3))[on])

    img = _illuminate(c.img, st, rng)
    return img, c.label


def _illuminate(img: np.ndarray, st: Style, rng) -> np.ndarray:
    h, w = img.shape[:2]
    img = img * st.brightness * np.array(st.tint, np.float32)
    if st.vignette:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
        img = img * (1 - st.vignette * np.clip(r2 / 2, 0, 1))[..., None]
    img = img * rng.uniform(0.92, 1.08)  # exposure
    img = img + rng.normal(0, 1.5, img.shape).astype(np.float32)  # mild sensor noise
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def corrupt(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Target-domain weather, blur and noise with albumentations (deterministic given ``rng``).

    Each step is its own ``A.Compose(..., seed=...)``: one Compose seeds all its transforms with
    the same seed, which would tie their random choices together.
    """
    h, w = img.shape[:2]
    steps = []
    weather = rng.choice(['fog', 'rain', 'clear'], p=[0.4, 0.35, 0.25])
    if weather == 'fog':
        f = float(rng.uniform(0.25, 0.6))
        steps.append(A.RandomFog(fog_coef_range=(f, f), alpha_coef=0.08, p=1.0))
    elif weather == 'rain':
        steps.append(A.RandomRain(slant_range=(-12, 12), drop_length=max(2, h // 12),
                                  drop_width=1, drop_color=(190, 190, 200), blur_value=3,
                                  brightness_coefficient=0.85,
                                  rain_type=str(rng.choice(['drizzle', 'default'])), p=1.0))
    if rng.random() < 0.7:
        s = float(rng.uniform(0.5, 1.1)) * w / 256
        steps.append(A.GaussianBlur(blur_limit=0, sigma_limit=(s, s), p=1.0))
    elif rng.random() < 0.5:
        steps.append(A.MotionBlur(blur_limit=(3, 5), p=1.0))
    steps.append(A.GaussNoise(std_range=(0.02, 0.05), p=1.0))
    steps.append(A.RandomBrightnessContrast(brightness_limit=(-0.15, 0.1),
                                            contrast_limit=(-0.3, 0.05), p=0.8))
    steps.append(A.HueSaturationValue(hue_shift_limit=8, sat_shift_limit=15, val_shift_limit=10,
                                      p=0.7))
    for t in steps:
        img = A.Compose([t], seed=int(rng.integers(2**31)))(image=img)['image']
    return img


# --------------------------------------------------------------------------------------------
# Target shifts: the family a benchmark evaluates over (``--shift KIND --severity 1|2|3``)
# --------------------------------------------------------------------------------------------
# Each kind renders the target scenes in the SOURCE style (palette, textures, scene statistics)
# and applies one kind of shift, so a shift isolates one cause of a domain gap. 'default' is the
# original target domain (other palette and textures, dusk, weather, blur, noise; severity does
# not apply). Every image draws its shift parameters from its own generator after its scene, with
# the same draws at every severity: severities differ only in strength, on the same scenes.
# Per kind, the parameters of severities 1, 2, 3:
SHIFTS: Dict[str, str] = {
    'default': 'the original target: other palette and textures, dusk, fog/rain, blur, noise',
    'night': 'night: darker exposure and gamma, blue cast, lit windows, low-light sensor noise',
    'fog': 'dense fog: contrast falls with distance towards a grey airlight, and a grey veil',
    'sensor': 'raw sensor: Bayer colour-filter-array mosaic and demosaicing, shot and read '
              'noise, wrong white balance',
    'jpeg': 'JPEG compression (block artefacts, chroma subsampling) at falling quality',
    'geometry': 'camera geometry: zoom, roll and a keystone (perspective) tilt; labels follow, '
                'the uncovered border is black and ignored',
    'colour': 'colour: hue rotation, saturation and per-channel gain (another camera ISP)',
}
SEVERITIES = (1, 2, 3)
_NIGHT = dict(gain=(0.45, 0.3, 0.2), gamma=(1.2, 1.4, 1.6), noise=(2.0, 3.0, 4.0),
              lit_window_prob=(0.2, 0.35, 0.5))
_FOG = dict(density=(1.2, 2.2, 3.5), veil=(0.1, 0.2, 0.3))
_SENSOR = dict(shot=(0.6, 1.2, 2.0), read=(2.0, 4.0, 7.0), wb=(0.08, 0.16, 0.28))
_JPEG = dict(quality=(25, 12, 5))
_GEOMETRY = dict(zoom=(1.1, 1.25, 1.45), roll_deg=(5.0, 10.0, 16.0), keystone=(0.06, 0.12, 0.2))
_COLOUR = dict(hue_deg=(20.0, 40.0, 70.0), saturation=(1.2, 1.45, 1.7), gain=(0.08, 0.15, 0.25))


def check_shift(shift: str, severity: Optional[int]) -> Optional[int]:
    """Validate ``(shift, severity)``; return the severity to use (``None`` for 'default')."""
    if shift not in SHIFTS:
        raise ValueError(f'unknown target shift {shift!r}; choose one of {sorted(SHIFTS)}')
    if shift == 'default':
        if severity is not None:
            raise ValueError("the 'default' target shift has no severity (omit --severity)")
        return None
    severity = 2 if severity is None else int(severity)
    if severity not in SEVERITIES:
        raise ValueError(f'severity of {shift!r} must be one of {SEVERITIES}, got {severity}')
    return severity


def target_style(shift: str, severity: Optional[int]) -> Style:
    """Rendering style of the target scenes of a shift (the source style but for 'default' and
    the lit windows at night)."""
    if shift == 'default':
        return TARGET_STYLE
    if shift == 'night':
        return replace(SOURCE_STYLE, lit_window_prob=_NIGHT['lit_window_prob'][severity - 1])
    return SOURCE_STYLE


def apply_shift(img: np.ndarray, label: np.ndarray, shift: str, severity: Optional[int],
                rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Shift one rendered target image (and, for geometry, its label).

    Args:
        img (np.ndarray): [H, W, 3] uint8 RGB, rendered in :func:`target_style`.
        label (np.ndarray): [H, W] uint8 train ids (255 = ignore).
        shift (str): A key of :data:`SHIFTS`.
        severity (int | None): 1, 2 or 3 (``None`` for 'default').
        rng (np.random.Generator): The image's generator; every severity draws the same numbers.

    Returns:
        tuple: ``(img [H, W, 3] uint8, label [H, W] uint8)``.
    """
    if shift == 'default':
        return corrupt(img, rng), label
    s = severity - 1
    h, w = img.shape[:2]
    x = img.astype(np.float32)
    if shift == 'night':
        noise = rng.normal(0.0, 1.0, x.shape).astype(np.float32)
        dark = 255.0 * (x / 255.0) ** _NIGHT['gamma'][s] * _NIGHT['gain'][s]
        dark = dark * np.array((0.85, 0.92, 1.15), np.float32)
        x = dark + _NIGHT['noise'][s] * noise
    elif shift == 'fog':
        # Depth proxy: distance grows towards the horizon row (about 0.43 h) from the bottom, and
        # the sky is infinitely far. Koschmieder: I = J t + A (1 - t), t = exp(-density * depth).
        rows = (np.arange(h, dtype=np.float32) + 0.5) / h
        depth = np.clip((1.0 - rows) / (1.0 - 0.43), 0.0, 1.0) ** 2
        depth = np.where(label == SKY, 1.0, depth[:, None])
        airlight = np.float32(rng.uniform(185, 215))
        t = np.exp(-_FOG['density'][s] * depth)[..., None]
        x = x * t + airlight * (1 - t)
        x = x * (1 - _FOG['veil'][s]) + airlight * _FOG['veil'][s]
    elif shift == 'sensor':
        gains = 1 + _SENSOR['wb'][s] * rng.uniform(-1.0, 1.0, 3).astype(np.float32)
        x = x * gains
        bayer = np.empty((h, w), np.float32)  # RGGB mosaic: one colour per pixel
        bayer[0::2, 0::2] = x[0::2, 0::2, 0]
        bayer[0::2, 1::2] = x[0::2, 1::2, 1]
        bayer[1::2, 0::2] = x[1::2, 0::2, 1]
        bayer[1::2, 1::2] = x[1::2, 1::2, 2]
        noise = rng.normal(0.0, 1.0, bayer.shape).astype(np.float32)
        bayer = bayer + noise * np.sqrt(_SENSOR['shot'][s] ** 2 * np.maximum(bayer, 0.0)
                                        + _SENSOR['read'][s] ** 2)
        raw = np.clip(np.round(bayer), 0, 255).astype(np.uint8)
        # OpenCV names Bayer patterns from the second row: RGGB is its BayerBG; it gives BGR.
        x = cv2.cvtColor(cv2.cvtColor(raw, cv2.COLOR_BayerBG2BGR), cv2.COLOR_BGR2RGB)
        x = x.astype(np.float32)
    elif shift == 'jpeg':
        quality = _JPEG['quality'][s]
        ok, buf = cv2.imencode('.jpg', cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError('JPEG encoding failed')
        x = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float32)
    elif shift == 'geometry':
        # Homography: zoom and roll about the centre, then a keystone (the top edge narrows),
        # each with a random sign/side. Labels use nearest neighbour; uncovered pixels are black
        # and ignored.
        roll = math.radians(_GEOMETRY['roll_deg'][s] * rng.choice((-1.0, 1.0)))
        k = _GEOMETRY['keystone'][s] * rng.choice((-1.0, 1.0))
        zoom = _GEOMETRY['zoom'][s]
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        dst = np.float32([[k * w, 0], [w - k * w, 0], [w, h], [0, h]])
        keystone = cv2.getPerspectiveTransform(src, dst)
        rot = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), math.degrees(roll), zoom),
                         [0, 0, 1]])
        m = rot @ keystone
        x = cv2.warpPerspective(x, m, (w, h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        label = cv2.warpPerspective(label, m, (w, h), flags=cv2.INTER_NEAREST,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=IGNORE)
    elif shift == 'colour':
        direction = rng.choice((-1.0, 1.0))
        gains = 1 + _COLOUR['gain'][s] * rng.uniform(-1.0, 1.0, 3).astype(np.float32)
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)  # hue in [0, 256)
        hsv[..., 0] = (hsv[..., 0] + direction * _COLOUR['hue_deg'][s] * 256 / 360) % 256
        hsv[..., 1] = np.clip(hsv[..., 1] * _COLOUR['saturation'][s], 0, 255)
        x = cv2.cvtColor(np.clip(np.round(hsv), 0, 255).astype(np.uint8),
                         cv2.COLOR_HSV2RGB_FULL).astype(np.float32) * gains
    return np.clip(np.round(x), 0, 255).astype(np.uint8), label


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------
def _write_png(path: str, array: np.ndarray) -> None:
    ok, buf = cv2.imencode('.png', array, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise RuntimeError(f'PNG encoding failed for {path}')
    tmp = osp.join(osp.dirname(path), f'.{osp.basename(path)}.tmp{os.getpid()}')
    with open(tmp, 'wb') as f:
        f.write(buf.tobytes())
    os.replace(tmp, path)


def _task(args) -> Tuple[str, str, int, np.ndarray, Dict[int, int]]:
    """Generate and write one image/label pair; return its class pixel counts."""
    out, seed, domain, split, index, h, w, shift, severity = args
    # The seed does not depend on the shift: every shift has the same target scenes.
    ss = np.random.SeedSequence([seed, DOMAINS.index(domain), SPLITS.index(split), index])
    rng = np.random.default_rng(ss)
    if domain == 'source':
        img, label = render_scene(rng, h, w, SOURCE_STYLE)
    else:
        img, label = render_scene(rng, h, w, target_style(shift, severity))
        img, label = apply_shift(img, label, shift, severity, rng)
    name = f'{index:05d}.png'
    root = osp.join(out, domain)
    _write_png(osp.join(root, 'images', split, name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    _write_png(osp.join(root, 'labels', split, name), label)
    counts = np.bincount(label.ravel(), minlength=256).astype(np.int64)
    return domain, split, index, counts, compute_class_stats(label, NUM_CLASSES)


def _params(args) -> dict:
    return dict(version=GENERATOR_VERSION, seed=args.seed, num_train=args.num_train,
                num_val=args.num_val, height=args.height, width=args.width, shift=args.shift,
                severity=args.severity)


def _expected_files(out: str, params: dict) -> List[str]:
    files = []
    for domain in DOMAINS:
        for split, n in (('train', params['num_train']), ('val', params['num_val'])):
            for kind in ('images', 'labels'):
                files += [osp.join(out, domain, kind, split, f'{i:05d}.png') for i in range(n)]
        files += [osp.join(out, domain, 'sample_class_stats.json'),
                  osp.join(out, domain, 'samples_with_class.json')]
    return files


def is_complete(out: str, params: dict) -> bool:
    """True if ``out`` holds a finished generation with these parameters."""
    try:
        with open(osp.join(out, 'meta.json'), encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    # Written before the shift family existed: the 'default' target, whose pixels did not change.
    meta.setdefault('shift', 'default')
    meta.setdefault('severity', None)
    if any(meta.get(k) != v for k, v in params.items()) or meta.get('classes') != list(CLASSES):
        return False
    return all(osp.isfile(p) for p in _expected_files(out, params))


def _remove_stale(out: str, params: dict) -> None:
    """Delete images and labels left by an earlier run with more samples, and temporary files."""
    keep = set(_expected_files(out, params))
    for domain in DOMAINS:
        for kind in ('images', 'labels'):
            for split in SPLITS:
                d = osp.join(out, domain, kind, split)
                for name in os.listdir(d):
                    p = osp.join(d, name)
                    ours = re.fullmatch(r'\d{5}\.png', name) or re.fullmatch(
                        r'\.\d{5}\.png\.tmp\d+', name)
                    if ours and p not in keep:
                        os.remove(p)


def frequency_table(percent: Dict[str, Dict[str, float]]) -> str:
    """Format ``{domain: {class name: percent of pixels}}`` as a table, one column per domain."""
    cols = list(percent)
    names = list(percent[cols[0]])
    lines = [f"{'class':<14}" + ''.join(f'{c:>10}' for c in cols)]
    lines += [f'{n:<14}' + ''.join(f'{percent[c][n]:>9.2f}%' for c in cols) for n in names]
    return '\n'.join(lines)


def generate(out: str, seed: int = 0, num_train: int = 400, num_val: int = 100,
             height: int = 128, width: int = 256, workers: int = 1, force: bool = False,
             progress: bool = True, shift: str = 'default',
             severity: Optional[int] = None) -> Optional[dict]:
    """Write the benchmark into ``out``; return the meta dict (``None`` if it was already there).

    ``shift`` (a key of :data:`SHIFTS`) and ``severity`` (1-3; ``None`` for 'default', 2 for the
    other kinds when not given) choose the target domain; the source domain is always the same.
    """
    severity = check_shift(shift, severity)
    args = argparse.Namespace(seed=seed, num_train=num_train, num_val=num_val, height=height,
                              width=width, shift=shift, severity=severity)
    params = _params(args)
    if not force and is_complete(out, params):
        return None
    if osp.exists(osp.join(out, 'meta.json')):
        os.remove(osp.join(out, 'meta.json'))  # from now on the directory reads as unfinished
    for domain in DOMAINS:
        for kind in ('images', 'labels'):
            for split in SPLITS:
                os.makedirs(osp.join(out, domain, kind, split), exist_ok=True)

    tasks = [(out, seed, d, s, i, height, width, shift, severity) for d in DOMAINS
             for s, n in (('train', num_train), ('val', num_val)) for i in range(n)]
    counts = {d: np.zeros(256, np.int64) for d in DOMAINS}
    stats: Dict[str, Dict[int, dict]] = {d: {} for d in DOMAINS}
    bar = tqdm(total=len(tasks), desc='toy data', unit='img', disable=not progress)
    pool, cv2_threads = None, cv2.getNumThreads()
    if workers > 1:
        import multiprocessing as mp

        # OpenCV's worker threads do not survive a fork: a child that inherits a started pool
        # deadlocks in its first parallel call. Stop them before forking, restart them after.
        cv2.setNumThreads(1)
        pool = mp.get_context('fork').Pool(workers)
    try:
        results = pool.imap_unordered(_task, tasks, chunksize=8) if pool else map(_task, tasks)
        for domain, split, index, cnt, rec in results:
            counts[domain] += cnt
            if split == 'train':
                stats[domain][index] = rec
            bar.update()
    except BaseException:
        if pool is not None:
            pool.terminate()  # close() + join() would wait for the tasks still queued
        raise
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()
            cv2.setNumThreads(cv2_threads)

    for domain in DOMAINS:
        records = [{'file': f'labels/train/{i:05d}.png', **stats[domain][i]}
                   for i in range(num_train)]
        write_class_stats(records, osp.join(out, domain))
    _remove_stale(out, params)
    meta = dict(params, classes=list(CLASSES),
                palette=[list(p) for p in ToyCityDataset.METAINFO['palette']],
                ignore_index=IGNORE, domains=list(DOMAINS), splits=list(SPLITS),
                layout='{domain}/{images,labels}/{split}/NNNNN.png',
                target_shift=SHIFTS[shift],
                target_corruptions=list(CORRUPTIONS) if shift == 'default' else [],
                class_pixel_percent={
                    d: {name: round(100 * float(counts[d][k]) / float(counts[d].sum()), 4)
                        for k, name in [*enumerate(CLASSES), (IGNORE, 'ignore')]}
                    for d in DOMAINS},
                versions=dict(numpy=np.__version__, opencv=cv2.__version__,
                              albumentations=A.__version__))
    tmp = osp.join(out, f'.meta.json.tmp{os.getpid()}')
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(meta, f, indent=2)
        f.write('\n')
    os.replace(tmp, osp.join(out, 'meta.json'))
    return meta


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', default='data/toy', help='output folder (default: data/toy)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--num-train', type=int, default=400, help='train images per domain')
    p.add_argument('--num-val', type=int, default=100, help='val images per domain')
    p.add_argument('--height', type=int, default=128)
    p.add_argument('--width', type=int, default=256)
    p.add_argument('--workers', type=int, default=1, help='processes (default: 1)')
    p.add_argument('--shift', default='default', choices=sorted(SHIFTS),
                   help='target domain: ' + '; '.join(f'{k}: {v}' for k, v in SHIFTS.items()))
    p.add_argument('--severity', type=int, choices=SEVERITIES, default=None,
                   help="strength of the shift (default 2; not for --shift default)")
    p.add_argument('--force', action='store_true', help='regenerate even if complete')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    args = p.parse_args(argv)
    if args.height < 16 or args.width < 16:
        p.error('--height and --width must be at least 16')
    if args.num_train < 1 or args.num_val < 1:
        p.error('--num-train and --num-val must be at least 1')
    try:
        args.severity = check_shift(args.shift, args.severity)
    except ValueError as e:
        p.error(str(e))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    cv2.setNumThreads(1)
    start = time.perf_counter()
    meta = generate(args.out, args.seed, args.num_train, args.num_val, args.height, args.width,
                    args.workers, args.force, progress=not args.no_progress, shift=args.shift,
                    severity=args.severity)
    if meta is None:
        print(f'{args.out} already holds complete toy data with these parameters '
              f'({json.dumps(_params(args))}); nothing to do (use --force to regenerate).')
        return 0
    elapsed = time.perf_counter() - start
    n = 2 * (args.num_train + args.num_val)
    shift = args.shift + ('' if args.severity is None else f' (severity {args.severity})')
    print(f'target shift: {shift}: {SHIFTS[args.shift]}')
    print(f'wrote {n} images of {args.height}x{args.width} to {args.out} in {elapsed:.1f} s '
          f'({1000 * elapsed / n:.1f} ms/image, {args.workers} worker(s))')
    print('pixels per class (percent of all pixels, train + val):')
    print(frequency_table(meta['class_pixel_percent']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
