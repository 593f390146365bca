"""LoadSourcePredictions (ATP's black-box distillation): hard labels from a prediction directory,
the confidence cut of the CE-on-confident-labels variant, and the named errors."""
import os
import os.path as osp

import numpy as np
import pytest

from mmsfda.datasets.source_prediction_files import write_meta, write_prediction
from mmsfda.datasets.transforms.load_source_predictions import LoadSourcePredictions


def prediction_dir(root, fmt, probs):
    img_dir = osp.join(str(root), 'images')
    pred_dir = osp.join(str(root), f'pred_{fmt}')
    os.makedirs(pred_dir, exist_ok=True)
    write_prediction(pred_dir, 'a', probs, fmt)
    write_meta(pred_dir, dict(format=fmt, num_classes=probs.shape[0], classes=['x', 'y', 'z'],
                              img_dir=osp.abspath(img_dir), img_suffix='.png', num_images=1))
    return pred_dir, osp.join(img_dir, 'a.png')


def probs_2x2():
    """[3, 2, 2]: confidences 0.9, 0.5 / 0.6, 0.34 with argmax 0, 1 / 2, 0."""
    return np.array([[[0.9, 0.3], [0.2, 0.34]],
                  [[0.05, 0.5], [0.2, 0.33]],
                  [[0.05, 0.2], [0.6, 0.33]]], dtype=np.float32)


def test_probs_min_confidence_sets_ignore(tmp_path):
    pred_dir, img = prediction_dir(tmp_path, 'probs', probs_2x2())
    results = dict(img_path=img, img=np.zeros((2, 2, 3), np.uint8), ori_shape=(2, 2))
    out = LoadSourcePredictions(pred_dir, num_classes=3, min_confidence=0.55).transform(results)
    assert out['gt_seg_map'].tolist() == [[0, 255], [2, 255]]
    assert out['pseudo_weight'].tolist() == [[1, 0], [1, 0]]
    assert out['source_probs'].shape == (2, 2, 3)
    np.testing.assert_allclose(out['source_probs'][0, 0], [0.9, 0.05, 0.05], atol=1e-3)  # float16
    every = LoadSourcePredictions(pred_dir, num_classes=3).transform(
        dict(img_path=img, img=np.zeros((2, 2, 3), np.uint8), ori_shape=(2, 2)))
    assert every['gt_seg_map'].tolist() == [[0, 1], [2, 0]]


def test_labels_format_has_no_probabilities(tmp_path):
    pred_dir, img = prediction_dir(tmp_path, 'labels', probs_2x2())
    out = LoadSourcePredictions(pred_dir, num_classes=3).transform(
        dict(img_path=img, img=np.zeros((2, 2, 3), np.uint8), ori_shape=(2, 2)))
    assert out['gt_seg_map'].tolist() == [[0, 1], [2, 0]]
    assert 'source_probs' not in out and 'source_probs' not in out['seg_fields']


def test_errors_name_the_mismatch(tmp_path):
    pred_dir, img = prediction_dir(tmp_path, 'probs', probs_2x2())
    results = dict(img_path=img, img=np.zeros((2, 2, 3), np.uint8), ori_shape=(2, 2))
    with pytest.raises(ValueError, match='num_classes is 3, but the model predicts 19'):
        LoadSourcePredictions(pred_dir, num_classes=19).transform(dict(results))
    with pytest.raises(ValueError, match='another target set'):
        LoadSourcePredictions(pred_dir, num_classes=3).transform(
            dict(results, img_path=str(tmp_path / 'elsewhere' / 'a.png')))
    with pytest.raises(FileNotFoundError, match='do not cover'):
        LoadSourcePredictions(pred_dir, num_classes=3).transform(
            dict(results, img_path=img.replace('a.png', 'b.png')))
    with pytest.raises(ValueError, match='needs pred_dir'):
        LoadSourcePredictions(None, num_classes=3)
