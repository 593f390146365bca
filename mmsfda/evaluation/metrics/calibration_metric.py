"""Streaming calibration metrics for segmentation: ECE, MCE, class-level ECE, NLL, Brier."""
import json
import logging
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.structures import BaseDataElement
from prettytable import PrettyTable
from torch import Tensor

from mmseg.registry import METRICS

from ...utils.atomic import atomic_write

RELIABILITY_FORMAT = 'mmsfda.reliability/1'
_CW_AVERAGES = ('present', 'all')


def bin_boundaries(n_bins: int, device=None) -> Tensor:
    """The M + 1 equal-width boundaries, float32 as torchmetrics (``linspace(0, 1, M + 1)``)."""
    return torch.linspace(0, 1, n_bins + 1, dtype=torch.float32, device=device)


def confidence_bins(conf: Tensor, n_bins: int) -> Tensor:
    """Bin index of each confidence, torchmetrics' convention, in ``[0, M]``.

    ``torchmetrics.functional.classification.calibration_error`` bins with
    ``bucketize(conf, linspace(0, 1, M + 1), right=True) - 1``: bin m (0-based, m < M) holds
    ``b_m <= conf < b_{m+1}`` (left-closed) and an extra bin M holds ``conf == 1`` exactly (frequent
    in float32 for confident pixels). Values above 1 (not probabilities) are put in bin M too.

    Args:
        conf (Tensor): Confidences, any shape; cast to float32 as torchmetrics does.
        n_bins (int): Number of equal-width bins M.

    Returns:
        Tensor: int64 bin indices, same shape as ``conf``.
    """
    conf = conf.float()
    idx = torch.bucketize(conf, bin_boundaries(n_bins, conf.device), right=True) - 1
    return idx.clamp_(0, n_bins)


def calibration_stats(seg_logits: Tensor,
                      label: Tensor,
                      n_bins: int = 15,
                      ignore_index: int = 255,
                      from_logits: bool = True) -> Dict[str, np.ndarray]:
    """Reduce one prediction to per-(class, bin) sums, O(C x M) numbers.

    Pixels are grouped by their ground-truth class k and the bin m of their top-label confidence
    ``conf = max_c p_c`` (:func:`confidence_bins`, M + 1 slots).

    Args:
        seg_logits (Tensor): Shape (C, H, W). Logits if ``from_logits`` (softmax is applied), else
            probabilities. With C == 1 the values are always taken as the foreground probability
            (what mmseg stores for single-channel heads), classes {background, foreground}.
            Resized bilinearly to the label size if it differs.
        label (Tensor): Ground truth, shape (H, W), ``ignore_index`` or labels >= C are ignored.
        n_bins (int): Number of equal-width bins M. Defaults to 15.
        ignore_index (int): Ignored label. Defaults to 255.
        from_logits (bool): Whether ``seg_logits`` are logits. Defaults to True.

    Returns:
        dict: ``count``, ``conf_sum``, ``correct``: arrays of shape (C', M + 1) (int64, float64,
        int64) over valid pixels with ground truth k in bin m; ``nll_sum`` (nats) and
        ``brier_sum`` (float64 scalars) and ``num_pixels`` (int64 scalar). C' = max(C, 2).
    """
    label = label.to(seg_logits.device).long()
    if seg_logits.shape[-2:] != label.shape[-2:]:
        seg_logits = F.interpolate(
            seg_logits[None].float(), size=label.shape[-2:], mode='bilinear',
            align_corners=False)[0]
    x = seg_logits.float()
    if x.shape[0] == 1:
        # mmseg stores the sigmoid foreground probability of single-channel heads
        x, from_logits = torch.cat([1 - x, x]), False
    num_classes = x.shape[0]

    valid = (label >= 0) & (label < num_classes) & (label != ignore_index)
    gt = label.clamp(0, num_classes - 1)
    if from_logits:
        probs = x.softmax(dim=0)
        log_p_gt = x.log_softmax(dim=0).gather(0, gt[None])[0]
    else:
        probs = x
        log_p_gt = probs.gather(0, gt[None])[0].clamp(min=torch.finfo(x.dtype).tiny).log()
    conf, pred = probs.max(dim=0)
    p_gt = probs.gather(0, gt[None])[0]
    # Brier score: sum_c (p_c - 1[c == y])^2 = sum_c p_c^2 - 2 p_y + 1
    brier = (probs * probs).sum(dim=0) - 2 * p_gt + 1

    gt, conf, brier, log_p_gt = gt[valid], conf[valid], brier[valid], log_p_gt[valid]
    correct = pred[valid] == gt
    cell = gt * (n_bins + 1) + confidence_bins(conf, n_bins)
    num_cells = num_classes * (n_bins + 1)
    count = torch.bincount(cell, minlength=num_cells)
    conf_sum = torch.zeros(num_cells, dtype=torch.float64, device=conf.device).index_add_(
        0, cell, conf.double())
    correct_count = torch.bincount(cell[correct], minlength=num_cells)
    shape = (num_classes, n_bins + 1)
    return dict(
        count=count.view(shape).cpu().numpy(),
        conf_sum=conf_sum.view(shape).cpu().numpy(),
        correct=correct_count.view(shape).cpu().numpy(),
        nll_sum=np.float64(-log_p_gt.double().sum().item()),
        brier_sum=np.float64(brier.double().sum().item()),
        num_pixels=np.int64(gt.numel()))


@METRICS.register_module()
class CalibrationMetric(BaseMetric):
    """Calibration of a segmentation model: ECE, MCE, class-level ECE, NLL and Brier score.

    Used next to ``IoUMetric``::

        val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                         dict(type='CalibrationMetric', n_bins=15)]
        default_hooks = dict(checkpoint=dict(type='CheckpointHook', save_best='ECE', rule='less'))

    Protocol: dataset-level pooling over the valid pixels (ground truth != ``ignore_index``) at
    label resolution (mmseg's ``seg_logits`` at the original image size), top-label confidence
    ``conf = max_c softmax(logits)_c``, M equal-width bins binned exactly as torchmetrics'
    ``multiclass_calibration_error`` (:func:`confidence_bins`: ``[b_m, b_{m+1})`` plus a bin for
    ``conf == 1``). ``process()`` keeps per-(class, bin) counts, confidence sums and correct counts
    for each image (O(C x M) numbers, trivially gathered across DDP ranks); ``compute_metrics()``
    sums them. With n_k pixels of ground truth k and N = sum_k n_k:

    * ``ECE`` = sum_m |B_m|/N |conf(B_m) - acc(B_m)|, torchmetrics ``norm='l1'``;
    * ``MCE`` = max over non-empty bins of |conf(B_m) - acc(B_m)|, torchmetrics ``norm='max'``;
    * ``cwECE``: class-level ECE as in Cal-SFDA (arXiv:2308.03003), ECE_k = top-label ECE over the
      pixels whose *ground truth* is k, averaged over the classes present in the ground truth of the
      dataset (``classwise_average='present'``) or summed and divided by C (``'all'``). This is not
      Kull et al.'s classwise ECE (calibration of p_k over all pixels);
    * ``NLL`` = mean of -log p_y over valid pixels, in nats;
    * ``Brier`` = mean of sum_c (p_c - 1[c = y])^2 over valid pixels, in [0, 2].

    ECE, MCE and cwECE are **fractions in [0, 1]** (not percentages, unlike IoUMetric's mIoU); the
    logged table says so. The per-bin data of the reliability diagram is not returned (mmengine
    logs every returned scalar) but written as JSON to ``out_file`` if given
    (``tools/analysis/reliability_diagram.py`` draws it).

    Args:
        n_bins (int): Number of equal-width confidence bins. Defaults to 15.
        ignore_index (int): Ignored label. Defaults to 255.
        from_logits (bool): Whether ``seg_logits`` are logits (mmseg's default) or probabilities.
            Defaults to True.
        classwise_average (str): 'present' or 'all', see ``cwECE``. Defaults to 'present'.
        out_file (str, optional): Path of the reliability JSON, rewritten atomically at every
            evaluation. Defaults to None.
        collect_device (str): 'cpu' or 'gpu', for DDP collection. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to None, so the keys are
            exactly 'ECE', 'MCE', 'cwECE', 'NLL', 'Brier'.
    """

    def __init__(self,
                 n_bins: int = 15,
                 ignore_index: int = 255,
                 from_logits: bool = True,
                 classwise_average: str = 'present',
                 out_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, **kwargs)
        if classwise_average not in _CW_AVERAGES:
            raise ValueError(
                f'classwise_average must be one of {_CW_AVERAGES}, got {classwise_average!r}')
        assert isinstance(n_bins, int) and n_bins >= 1
        self.n_bins = n_bins
        self.ignore_index = ignore_index
        self.from_logits = from_logits
        self.classwise_average = classwise_average
        self.out_file = out_file

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Reduce each sample's ``seg_logits`` (C, H, W) and ``gt_sem_seg`` to bin sums.

        Appends one result per sample (mmengine's collection relies on it).
        """
        for data_sample in data_samples:
            if isinstance(data_sample, BaseDataElement):
                data_sample = data_sample.to_dict()
            label = data_sample['gt_sem_seg']['data']
            label = label[0] if label.dim() == 3 else label
            with torch.no_grad():
                self.results.append(
                    calibration_stats(data_sample['seg_logits']['data'], label, self.n_bins,
                                      self.ignore_index, self.from_logits))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Sum the per-sample arrays and compute ECE, MCE, cwECE, NLL and Brier.

        Returns:
            dict[str, float]: 'ECE', 'MCE', 'cwECE' (fractions), 'NLL' (nats), 'Brier'.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        summary = self.summarize(results)
        if summary['num_pixels'] == 0:
            print_log('CalibrationMetric: no valid pixel, calibration metrics are NaN.', logger,
                      level=logging.WARNING)

        table = PrettyTable()
        for key, unit in [('ECE', 'fraction'), ('MCE', 'fraction'), ('cwECE', 'fraction'),
                          ('NLL', 'nats'), ('Brier', '0-2')]:
            table.add_column(f'{key} ({unit})', [f'{summary[key]:.4f}'])
        table.add_column('pixels', [summary['num_pixels']])
        print_log('calibration (dataset-level, '
                  f'{self.n_bins} equal-width bins, top-label confidence):', logger)
        print_log('\n' + table.get_string(), logger=logger)

        class_names = self._class_names(len(summary['class_ECE']))
        class_table = PrettyTable()
        class_table.add_column('Class', class_names)
        class_table.add_column('pixels', summary['class_pixels'])
        for key in ('class_ECE', 'class_confidence', 'class_accuracy'):
            class_table.add_column(
                key[len('class_'):] + ' (fraction)',
                ['-' if v is None else f'{v:.4f}' for v in summary[key]])
        print_log('per class calibration (pixels of each ground-truth class):', logger)
        print_log('\n' + class_table.get_string(), logger=logger)

        if self.out_file is not None:
            summary['classes'] = class_names
            atomic_write(self.out_file, json.dumps(summary, indent=1))
            print_log(f'reliability data written to {self.out_file}', logger)
        return {key: summary[key] for key in ('ECE', 'MCE', 'cwECE', 'NLL', 'Brier')}

    def summarize(self, results: List[dict]) -> dict:
        """Sum per-sample results into the reliability summary (what ``out_file`` holds).

        Returns:
            dict: JSON-serialisable; the scalar metrics plus per-bin ``bin_lower``,
            ``bin_upper``, ``count``, ``conf_sum``, ``correct``, ``mean_confidence`` and
            ``accuracy`` (None for empty bins; M + 1 entries, the last is the bin {1.0}) and the
            per-class ``class_pixels``, ``class_ECE``, ``class_confidence``, ``class_accuracy``
            (None for absent classes).
        """
        if not results:  # nothing processed: NaN metrics, no class
            results = [dict(count=np.zeros((0, self.n_bins + 1), dtype=np.int64),
                            conf_sum=np.zeros((0, self.n_bins + 1)),
                            correct=np.zeros((0, self.n_bins + 1), dtype=np.int64),
                            nll_sum=0.0, brier_sum=0.0, num_pixels=0)]
        count = sum(r['count'] for r in results).astype(np.int64)  # (C, M + 1)
        conf_sum = sum(r['conf_sum'] for r in results).astype(np.float64)
        correct = sum(r['correct'] for r in results).astype(np.int64)
        num_pixels = int(count.sum())
        nan = float('nan')

        bin_count, bin_conf, bin_correct = count.sum(0), conf_sum.sum(0), correct.sum(0)
        nonempty = bin_count > 0
        bin_mean_conf = np.where(nonempty, bin_conf / np.maximum(bin_count, 1), 0.0)
        bin_acc = np.where(nonempty, bin_correct / np.maximum(bin_count, 1), 0.0)
        ece = np.abs(bin_conf - bin_correct).sum() / num_pixels if num_pixels else nan
        mce = np.abs(bin_mean_conf - bin_acc)[nonempty].max() if num_pixels else nan

        class_pixels = count.sum(1)
        present = class_pixels > 0
        denom = np.maximum(class_pixels, 1)
        class_ece = np.abs(conf_sum - correct).sum(1) / denom
        if not present.any():
            cw_ece = nan
        elif self.classwise_average == 'present':
            cw_ece = class_ece[present].mean()
        else:
            cw_ece = class_ece[present].sum() / len(class_ece)

        def _or_none(values, mask):
            return [float(v) if m else None for v, m in zip(values, mask)]

        lower = bin_boundaries(self.n_bins).double().numpy()
        return {
            'format': RELIABILITY_FORMAT,
            'protocol': 'dataset-level pooling over valid pixels at label resolution; top-label '
                        'confidence; equal-width bins [lower, upper) as torchmetrics, the last '
                        'bin holds confidence == 1',
            'n_bins': self.n_bins,
            'ECE': float(ece),
            'MCE': float(mce),
            'cwECE': float(cw_ece),
            'NLL': float(sum(r['nll_sum'] for r in results) / num_pixels) if num_pixels else nan,
            'Brier': float(sum(r['brier_sum'] for r in results) / num_pixels)
            if num_pixels else nan,
            'num_pixels': num_pixels,
            'bin_lower': lower.tolist(),
            'bin_upper': lower[1:].tolist() + [1.0],
            'count': bin_count.tolist(),
            'conf_sum': bin_conf.tolist(),
            'correct': bin_correct.tolist(),
            'mean_confidence': _or_none(bin_mean_conf, nonempty),
            'accuracy': _or_none(bin_acc, nonempty),
            'class_pixels': class_pixels.tolist(),
            'class_ECE': _or_none(class_ece, present),
            'class_confidence': _or_none(conf_sum.sum(1) / denom, present),
            'class_accuracy': _or_none(correct.sum(1) / denom, present),
        }

    def _class_names(self, num_classes: int) -> List[str]:
        classes = (self.dataset_meta or {}).get('classes')
        if classes is not None and len(classes) == num_classes:
            return [str(c) for c in classes]
        return [str(k) for k in range(num_classes)]
