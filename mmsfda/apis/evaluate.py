"""Evaluate a checkpoint on a chosen dataset with mmengine's runner (used by the demo and benchmarks)."""
import copy
import os.path as osp
from typing import Optional

from mmengine.config import Config
from mmengine.runner import Runner


def evaluate_checkpoint(config: str, checkpoint: str, work_dir: str,
                        dataset: Optional[dict] = None, reliability_file: Optional[str] = None,
                        n_bins: int = 15, cfg_options: Optional[dict] = None) -> dict:
    """mIoU and calibration of ``checkpoint`` on ``dataset`` (default: the config's test set).

    Args:
        config (str): Config file the checkpoint was trained with.
        checkpoint (str): Checkpoint file.
        work_dir (str): Where the runner writes its logs.
        dataset (dict, optional): Dataset config replacing ``test_dataloader.dataset``.
        reliability_file (str, optional): Where CalibrationMetric writes the per-bin JSON.
        n_bins (int): Calibration bins.
        cfg_options (dict, optional): Extra config overrides (merged last).

    Returns:
        dict: ``mIoU``, ``aAcc``, ``ECE``, ``MCE``, ``cwECE``, ``NLL``, ``Brier`` ... as the metrics
        report them (IoU metrics in percent, calibration as fractions).
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    cfg = Config.fromfile(config)
    if dataset is not None:
        cfg.test_dataloader.dataset = copy.deepcopy(dataset)
    cfg.test_evaluator = [
        dict(type='IoUMetric', iou_metrics=['mIoU']),
        dict(type='CalibrationMetric', n_bins=n_bins, out_file=reliability_file),
    ]
    cfg.load_from = checkpoint
    cfg.work_dir = work_dir
    cfg.resume = False
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook', draw=False)
    cfg.log_level = 'WARNING'  # the caller reports the metrics; skip the config dump and tables
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    runner = Runner.from_cfg(cfg)
    return dict(runner.test())
