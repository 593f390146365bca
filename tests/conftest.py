import os.path as osp

import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def data_roots(node):
    """Every ``data_root`` string in a config tree (dicts and lists), depth first."""
    if isinstance(node, dict):
        if isinstance(node.get('data_root'), str):
            yield node['data_root']
        for v in node.values():
            yield from data_roots(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from data_roots(v)


def free_port() -> int:
    """A free TCP port on localhost (for a torchrun master)."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True, scope='session')
def mmseg_scope():
    """Build modules as configs do (``default_scope='mmseg'``), with mmsfda registered."""
    import mmsfda  # noqa: F401
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')


def write_tiny_seg_data(root, num=4, shape=(32, 64), num_classes=4, seed=0):
    """Write ``num`` image/label PNG pairs (``img/NNN.png``, ``ann/NNN.png``) under ``root``.

    Each label is a horizontal band layout (class ``k`` in band ``k``) and each image encodes its
    class by colour plus noise, so a tiny model can learn it in a few iterations.
    """
    import cv2
    rng = np.random.default_rng(seed)
    h, w = shape
    for d in ('img', 'ann'):
        __import__('os').makedirs(osp.join(root, d), exist_ok=True)
    colors = rng.integers(0, 256, size=(num_classes, 3))
    for i in range(num):
        cuts = np.sort(rng.integers(1, h, size=num_classes - 1))
        label = np.searchsorted(cuts, np.arange(h), side='right').astype(np.uint8)
        label = np.repeat(label[:, None], w, axis=1)
        img = colors[label] + rng.normal(0, 20, size=(h, w, 3))
        cv2.imwrite(osp.join(root, 'img', f'{i:03d}.png'), np.clip(img, 0, 255).astype(np.uint8))
        cv2.imwrite(osp.join(root, 'ann', f'{i:03d}.png'), label)
    return root


@pytest.fixture
def tiny_seg_data(tmp_path):
    return write_tiny_seg_data(str(tmp_path / 'data'))
