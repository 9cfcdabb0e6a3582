"""A small synthetic point-cloud classification set in ScanObjectNN's h5 layout.

Objects are sampled, area-uniformly, from the surfaces of a handful of primitives (sphere, box,
cylinder, cone, torus) and of compositions of them (table, chair, mushroom, snowman, bench),
each with random proportions, a random turn about the vertical axis and a slight tilt. To make
it a scan rather than a mesh, as ScanObjectNN's PB_T50_RS: the side facing away from a random
viewpoint is mostly cut away (a partial view), a random ball of points is occluded, Gaussian
noise jitters every point, and 5-15% of the points are background (a piece of floor under the
object, a wall patch behind it, loose clutter). Every object is centred and scaled into the
unit sphere and its 2048 points are stored in random order, so the loader's first 1024 are a
random subset. Drawn from a seed; nothing is downloaded.
"""
import json
import os
import os.path as osp
from typing import Dict

import numpy as np

POINTCLOUD_CLASSES = ('sphere', 'box', 'cylinder', 'cone', 'torus', 'table', 'chair',
                      'mushroom', 'snowman', 'bench')
POINTCLOUD_GENERATOR_VERSION = 2
POINTS = 2048


# --- surfaces: each returns (sampler(n, rng) -> [n, 3], area) ---------------------------------

def _sphere(r):
    def sample(n, rng):
        v = rng.normal(size=(n, 3))
        return r * v / np.linalg.norm(v, axis=1, keepdims=True)
    return sample, 4 * np.pi * r * r


def _hemisphere(r):
    def sample(n, rng):
        v = rng.normal(size=(n, 3))
        v[:, 2] = np.abs(v[:, 2])
        return r * v / np.linalg.norm(v, axis=1, keepdims=True)
    return sample, 2 * np.pi * r * r


def _box(sx, sy, sz):
    faces = np.array([sy * sz, sy * sz, sx * sz, sx * sz, sx * sy, sx * sy])

    def sample(n, rng):
        face = rng.choice(6, size=n, p=faces / faces.sum())
        p = (rng.random((n, 3)) - 0.5) * [sx, sy, sz]
        axis, sign = face // 2, np.where(face % 2, 0.5, -0.5)
        p[np.arange(n), axis] = sign * np.array([sx, sy, sz])[axis]
        return p
    return sample, 2 * faces[::2].sum()


def _cylinder(r, h):
    side, cap = 2 * np.pi * r * h, np.pi * r * r

    def sample(n, rng):
        part = rng.choice(3, size=n, p=np.array([side, cap, cap]) / (side + 2 * cap))
        theta = rng.random(n) * 2 * np.pi
        rad = np.where(part == 0, r, r * np.sqrt(rng.random(n)))
        z = np.where(part == 0, (rng.random(n) - 0.5) * h, np.where(part == 1, -h / 2, h / 2))
        return np.stack([rad * np.cos(theta), rad * np.sin(theta), z], 1)
    return sample, side + 2 * cap


def _cone(r, h):
    side, base = np.pi * r * np.hypot(r, h), np.pi * r * r

    def sample(n, rng):
        lateral = rng.random(n) < side / (side + base)
        theta = rng.random(n) * 2 * np.pi
        frac = np.sqrt(rng.random(n))  # area-uniform: radius grows linearly from the apex
        rad = np.where(lateral, r * frac, r * np.sqrt(rng.random(n)))
        z = np.where(lateral, h / 2 - h * frac, -h / 2)
        return np.stack([rad * np.cos(theta), rad * np.sin(theta), z], 1)
    return sample, side + base


def _torus(big, small):
    def sample(n, rng):
        out = np.empty((0, 3))
        while len(out) < n:  # rejection on the area element (1 + small / big * cos v)
            u, v = rng.random((2, 2 * n)) * 2 * np.pi
            keep = rng.random(2 * n) * (big + small) < big + small * np.cos(v)
            u, v = u[keep], v[keep]
            ring = big + small * np.cos(v)
            out = np.concatenate([out, np.stack([ring * np.cos(u), ring * np.sin(u),
                                                 small * np.sin(v)], 1)])
        return out[:n]
    return sample, 4 * np.pi ** 2 * big * small


def _at(part, offset):
    sample, area = part
    return (lambda n, rng: sample(n, rng) + offset), area


def _parts(name: str, rng) -> list:
    """The surfaces of one object of class ``name`` with random proportions (z is up)."""
    u = lambda lo, hi: rng.uniform(lo, hi)  # noqa: E731
    if name == 'sphere':
        return [_sphere(u(0.5, 1.0))]
    if name == 'box':
        return [_box(u(0.5, 1.5), u(0.5, 1.5), u(0.5, 1.5))]
    if name == 'cylinder':
        return [_cylinder(u(0.3, 0.6), u(0.8, 2.0))]
    if name == 'cone':
        return [_cone(u(0.4, 0.8), u(0.8, 1.8))]
    if name == 'torus':
        big = u(0.6, 1.0)
        return [_torus(big, big * u(0.2, 0.4))]
    if name in ('table', 'bench'):
        w, d = (u(1.2, 1.8), u(0.8, 1.2)) if name == 'table' else (u(1.6, 2.4), u(0.3, 0.5))
        h, leg = (u(0.7, 1.0), u(0.04, 0.08)) if name == 'table' else (u(0.4, 0.6), u(0.05, 0.1))
        parts = [_at(_box(w, d, 0.08), [0, 0, h])]
        for sx in (-1, 1):
            for sy in (-1, 1):
                parts.append(_at(_cylinder(leg, h), [sx * (w / 2 - 0.1), sy * (d / 2 - 0.05),
                                                     h / 2]))
        return parts
    if name == 'chair':
        w, h, back = u(0.5, 0.7), u(0.45, 0.6), u(0.5, 0.9)
        parts = [_at(_box(w, w, 0.06), [0, 0, h]), _at(_box(w, 0.06, back),
                                                       [0, -w / 2, h + back / 2])]
        for sx in (-1, 1):
            for sy in (-1, 1):
                parts.append(_at(_cylinder(0.03, h), [sx * (w / 2 - 0.04), sy * (w / 2 - 0.04),
                                                      h / 2]))
        return parts
    if name == 'mushroom':
        stem, cap = u(0.5, 1.0), u(0.5, 0.9)
        return [_at(_cylinder(u(0.12, 0.25), stem), [0, 0, stem / 2]),
                _at(_hemisphere(cap), [0, 0, stem])]
    if name == 'snowman':
        low, high = u(0.45, 0.65), u(0.25, 0.4)
        return [_sphere(low), _at(_sphere(high), [0, 0, low + high * 0.8])]
    raise KeyError(name)


def _rotation(rng) -> np.ndarray:
    """A turn about z (any angle) after a tilt of up to ~10 degrees about x and y."""
    a, bx, by = rng.uniform(0, 2 * np.pi), rng.normal(0, 0.08), rng.normal(0, 0.08)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(bx), -np.sin(bx)], [0, np.sin(bx), np.cos(bx)]])
    ry = np.array([[np.cos(by), 0, np.sin(by)], [0, 1, 0], [-np.sin(by), 0, np.cos(by)]])
    return rz @ rx @ ry


def draw_object(name: str, rng, points: int = POINTS) -> np.ndarray:
    """One object of class ``name`` as a partial, noisy scan with background: ``[points, 3]``
    float32 in the unit sphere, in random order."""
    parts = _parts(name, rng)
    background = int(points * rng.uniform(0.05, 0.15))
    dense = 3 * (points - background)  # sampled densely, then the hidden side is cut away
    areas = np.array([area for _, area in parts])
    counts = rng.multinomial(dense, areas / areas.sum())
    obj = np.concatenate([sample(n, rng) for (sample, _), n in zip(parts, counts) if n])
    obj -= (obj.max(0) + obj.min(0)) / 2
    obj = obj @ _rotation(rng).T
    # partial view: keep the side facing a random viewpoint (and a little of the rest)
    view = rng.normal(size=3)
    view[2] = abs(view[2]) * 0.5
    view /= np.linalg.norm(view)
    depth = obj @ view
    visible = depth > np.quantile(depth, rng.uniform(0.1, 0.4))
    # occlusion: a ball of points goes missing
    hole = obj[rng.integers(len(obj))]
    visible &= np.linalg.norm(obj - hole, axis=1) > rng.uniform(0.0, 0.25)
    obj = obj[visible]
    obj = obj[rng.choice(len(obj), points - background, replace=len(obj) < points - background)]
    lo, hi = obj.min(0), obj.max(0)
    floor_n = background // 2
    wall_n = background // 3
    clutter_n = background - floor_n - wall_n
    floor = np.stack([rng.uniform(lo[0] - 0.3, hi[0] + 0.3, floor_n),
                      rng.uniform(lo[1] - 0.3, hi[1] + 0.3, floor_n),
                      np.full(floor_n, lo[2]) + rng.normal(0, 0.01, floor_n)], 1)
    behind = -view[:2] / (np.linalg.norm(view[:2]) + 1e-9)
    side = np.array([-behind[1], behind[0]])
    along = rng.uniform(-1, 1, wall_n)[:, None] * side * np.abs(hi[:2] - lo[:2]).max()
    wall_xy = behind * (np.abs(hi[:2] - lo[:2]).max() / 2 + rng.uniform(0.1, 0.4)) + along
    wall = np.concatenate([wall_xy, rng.uniform(lo[2], hi[2] + 0.2, (wall_n, 1))], 1)
    clutter = rng.uniform(lo - 0.3, hi + 0.3, (clutter_n, 3))
    cloud = np.concatenate([obj, floor, wall, clutter])
    cloud += rng.normal(0, 0.01, cloud.shape)
    cloud -= (cloud.max(0) + cloud.min(0)) / 2
    cloud /= np.linalg.norm(cloud, axis=1).max()
    return cloud[rng.permutation(points)].astype(np.float32)


def write_scanobjectnn_h5(path: str, data: np.ndarray, label: np.ndarray) -> str:
    """Write ``data`` ``[objects, points, 3]`` and ``label`` ``[objects]`` as ScanObjectNN's
    h5 files hold them (``data`` float32, ``label`` int64)."""
    import h5py
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with h5py.File(path, 'w') as f:
        f.create_dataset('data', data=np.asarray(data, np.float32))
        f.create_dataset('label', data=np.asarray(label, np.int64))
    return path


def write_synthetic_scanobjectnn(root: str, sizes: Dict[str, int], seed: int = 0,
                                 classes=POINTCLOUD_CLASSES) -> str:
    """Write ``sizes`` (``dict(training=N, test=M)``) objects, classes in turn, as
    ``<root>/main_split/<split>_objectdataset_augmentedrot_scale75.h5`` plus
    ``<root>/shape_names.txt`` (the class names, one a line). Returns ``root``."""
    from .scanobjectnn import h5_path
    rng = np.random.default_rng(seed)
    for split, count in sizes.items():
        label = np.arange(count) % len(classes)
        rng.shuffle(label)
        data = np.stack([draw_object(classes[c], rng) for c in label])
        write_scanobjectnn_h5(h5_path(root, split), data, label)
    with open(osp.join(root, 'shape_names.txt'), 'w') as f:
        f.write('\n'.join(classes) + '\n')
    with open(osp.join(root, 'settings.json'), 'w') as f:
        json.dump(dict(version=POINTCLOUD_GENERATOR_VERSION, sizes=sizes, seed=seed,
                       classes=list(classes)), f)
    return root
