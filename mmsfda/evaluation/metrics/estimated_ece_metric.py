"""Mean value-net estimate of the class-level ECE: Cal-SFDA's label-free model selection metric."""
import logging
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.structures import BaseDataElement
from prettytable import PrettyTable

from mmseg.registry import METRICS
from mmsfda.engine.checkpoint_selection import spearman
from mmsfda.models.losses.differentiable_ece_loss import differentiable_ece_loss


@METRICS.register_module()
class EstimatedECEMetric(BaseMetric):
    """The value net's estimated class-level ECE, averaged over images (arXiv:2308.03003).

    Cal-SFDA selects the target checkpoint by the lowest estimated ECE, which needs no target
    label. With an :class:`~mmsfda.models.segmentors.ECEEstimatingEncoderDecoder`, whose
    ``predict`` puts the value net's estimate ``est_ece`` (a fraction in [0, 1]) in every sample's
    metainfo::

        val_evaluator = dict(type='EstimatedECEMetric')
        default_hooks = dict(
            checkpoint=dict(type='CheckpointHook', save_best='EstECE', rule='less'))

    keeps the best checkpoint without target labels (``CheckpointSelectionHook`` with the rule
    'min_est_ece' records the same choice next to oracle ones).

    Returns ``EstECE``, the mean of ``est_ece`` over the images. If ``oracle`` and the samples
    also carry ``seg_logits`` (C, H, W) and ``gt_sem_seg`` (1, H, W), it also returns ``ClassECE``:
    the mean over those images of their true class-level ECE, :func:`differentiable_ece_loss` of
    the image (what the value net is trained to regress). That is an oracle diagnostic
    (how good the estimate is); selection never needs it. Its per-image Spearman correlation with
    the estimate and the mean absolute error are logged, not returned. Both values are
    **fractions** (as ``CalibrationMetric``'s ECE), not percentages.

    Args:
        oracle (bool): Compute ``ClassECE`` where ground truth is present. Defaults to True.
        ece_cfg (dict, optional): Keyword arguments of :func:`differentiable_ece_loss` for
            ``ClassECE``. Defaults to the paper's ``n_bins=10, lse_t=1e-5, class_level=True,
            average='all'`` (as the value net's training target).
        ignore_index (int): Ignored label of the ground truth. Defaults to 255.
        collect_device (str): 'cpu' or 'gpu', for DDP collection. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to None ('EstECE').
    """

    def __init__(self,
                 oracle: bool = True,
                 ece_cfg: Optional[dict] = None,
                 ignore_index: int = 255,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, **kwargs)
        self.oracle = oracle
        self.ece_cfg = dict(n_bins=10, lse_t=1e-5, class_level=True, average='all')
        self.ece_cfg.update(ece_cfg or {})
        self.ignore_index = ignore_index

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Keep each sample's ``est_ece`` and, with ``oracle``, its true class-level ECE.

        Raises:
            ValueError: A sample has no ``est_ece`` (the model is not an ECE-estimating
                segmentor).
        """
        for data_sample in data_samples:
            if isinstance(data_sample, BaseDataElement):
                data_sample = data_sample.to_dict()
            est = data_sample.get('est_ece')
            if est is None:
                raise ValueError(
                    f'{type(self).__name__} needs `est_ece` in every predicted sample; the model '
                    'must be an ECE-estimating segmentor (a value head, e.g. '
                    'ECEEstimatingEncoderDecoder)')
            result = dict(est_ece=float(est), class_ece=None)
            if self.oracle and 'seg_logits' in data_sample and 'gt_sem_seg' in data_sample:
                result['class_ece'] = self.class_ece(data_sample['seg_logits']['data'],
                                                     data_sample['gt_sem_seg']['data'])
            self.results.append(result)

    @torch.no_grad()
    def class_ece(self, seg_logits: torch.Tensor, label: torch.Tensor) -> float:
        """True class-level ECE of one image.

        Args:
            seg_logits (Tensor): Logits, shape (C, H, W); resized bilinearly to the label size
                if it differs.
            label (Tensor): Ground truth, shape (1, H, W) or (H, W).

        Returns:
            float: :func:`differentiable_ece_loss` of the image, a fraction.
        """
        label = label[0] if label.dim() == 3 else label
        label = label.to(seg_logits.device)
        logits = seg_logits[None].float()
        if logits.shape[-2:] != label.shape[-2:]:
            logits = F.interpolate(logits, size=label.shape[-2:], mode='bilinear',
                                   align_corners=False)
        return float(differentiable_ece_loss(logits, label[None], ignore_index=self.ignore_index,
                                             **self.ece_cfg)[0])

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Average the per-image values.

        Returns:
            dict[str, float]: 'EstECE' and, if any image had ground truth, 'ClassECE'
            (fractions; NaN without any image).
        """
        logger: MMLogger = MMLogger.get_current_instance()
        if not results:
            print_log(f'{type(self).__name__}: no image, EstECE is NaN.', logger,
                      level=logging.WARNING)
        est = np.array([r['est_ece'] for r in results], dtype=np.float64)
        metrics = {'EstECE': float(est.mean()) if len(est) else float('nan')}
        table = PrettyTable()
        table.add_column('EstECE (fraction)', [f"{metrics['EstECE']:.4f}"])

        pairs = [(r['est_ece'], r['class_ece']) for r in results if r['class_ece'] is not None]
        if pairs:
            est_o, true = np.array(pairs, dtype=np.float64).T
            metrics['ClassECE'] = float(true.mean())
            rho = spearman(est_o.tolist(), true.tolist())
            table.add_column('ClassECE (oracle)', [f"{metrics['ClassECE']:.4f}"])
            table.add_column('|est - true|', [f'{np.abs(est_o - true).mean():.4f}'])
            table.add_column('spearman', ['-' if rho is None else f'{rho:+.3f}'])
        table.add_column('images', [len(est)])
        print_log('estimated class-level ECE (value net), per-image mean:', logger)
        print_log('\n' + table.get_string(), logger=logger)
        return metrics
