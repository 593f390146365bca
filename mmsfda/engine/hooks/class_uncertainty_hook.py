"""Compute UPLR's target class uncertainty at the start of a stage and hand it to the sampler and
the model (Wang et al., ICCV 2021; the poster's formulas U1-U3)."""
import json
import logging
import os.path as osp
from typing import Optional, Union

from mmengine import dist
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner.loops import _InfiniteDataloaderIterator
from mmseg.registry import HOOKS

from ...datasets.soft_balance_sampler import SoftBalanceSampler
from ...models.pseudo_labelers.class_uncertainty import ClassUncertainty
from ...utils.atomic import atomic_write
from ..pseudo_labeling import (dataset_identity, dataset_statistics, label_dataloader_cfg)

_CKPT_KEY = 'class_uncertainty'


@HOOKS.register_module()
class ClassUncertaintyHook(Hook):
    """At ``before_train`` of a fresh run: ``I^c`` and ``S_k`` of the target set with the current
    model, through the engine's labelling pass (:func:`dataset_statistics`: sharded across ranks,
    reduced), then

    * the model's ``class_uncertainty`` (a :class:`ClassUncertainty` module of a
      :class:`~mmsfda.models.segmentors.UPLRSegmentor`, so it is in every checkpoint) holds them
      (the TGAA rectifier reads them);
    * a :class:`SoftBalanceSampler` of the train dataloader gets ``S_k`` and the loop's data
      iterator is restarted: mmengine creates it when the loop is built, before any checkpoint is
      loaded, and a multi-worker loader has drawn indices already;
    * they are logged (per class) and written to ``<work_dir>/class_uncertainty.json`` with the
      identity of the target set.

    The values stay fixed for the stage (UPLR recomputes them per sampling stage: run several
    stages, see ``configs/uplr/stages_toy.py``). On resume they come from the checkpoint (the model
    buffers and this hook's entry with the sampler's state), nothing is recomputed, and the sampler
    replays the same draws.

    Args:
        dataloader (dict): The target set with a test pipeline (every image once; its sampler is
            made sequential, without round-up, by :func:`label_dataloader_cfg`).
        tta (dict, optional): Test-time augmentation of the pass (see ``LabelingTTA``).
        uncertainty_file (str, optional): Read ``I^c`` from this ``class_uncertainty.json``
            instead of computing it; it must name the same number of classes, class names and
            target image list (else a ValueError names the file and the key).
    """

    priority = 'NORMAL'

    def __init__(self, dataloader: Union[dict, object], tta: Optional[dict] = None,
                 uncertainty_file: Optional[str] = None):
        self.dataloader = dataloader
        self.tta = tta
        self.uncertainty_file = uncertainty_file
        self._resumed_state: Optional[dict] = None

    # --- checkpoint
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        sampler = self._sampler(runner)
        checkpoint[_CKPT_KEY] = dict(sampler=None if sampler is None else sampler.state_dict())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Called for load_from too: before_train tells a resume (runner.iter > 0) from a start.
        self._resumed_state = checkpoint.get(_CKPT_KEY, {})

    # --- the stage start
    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        estimator = getattr(model, 'class_uncertainty', None)
        if not isinstance(estimator, ClassUncertainty):
            raise TypeError(f'ClassUncertaintyHook needs a model with a ClassUncertainty module '
                            f'`class_uncertainty` (UPLRSegmentor), got {type(model).__name__}')
        sampler = self._sampler(runner)
        if runner.iter > 0:  # resumed: the state of the stage's start is in the checkpoint
            state = (self._resumed_state or {}).get('sampler')
            if sampler is not None and state is not None:
                sampler.load_state_dict(state)
            print_log(f'ClassUncertaintyHook: resumed with S_k {estimator.uncertain_classes}',
                      logger='current')
        else:
            loader = self.dataloader
            if isinstance(loader, dict):
                loader = runner.build_dataloader(label_dataloader_cfg(loader), seed=runner.seed)
            names = list(loader.dataset.metainfo.get('classes', [])) or None
            identity = dataset_identity(loader.dataset)
            if self.uncertainty_file is None:
                dataset_statistics(model, loader, estimator, self.tta)
            else:
                summary = _read(self.uncertainty_file)
                if summary.get('dataset') != identity:
                    raise ValueError(f'{self.uncertainty_file}: dataset {summary.get("dataset")} '
                                     f'is not the target set of this run {identity}')
                estimator.load_summary(summary, self.uncertainty_file, names)
            summary = dict(estimator.summary(names), dataset=identity)
            self._log(summary)
            if dist.is_main_process():
                atomic_write(osp.join(runner.work_dir, 'class_uncertainty.json'),
                             json.dumps(summary, indent=1) + '\n')
            if sampler is not None:
                sampler.set_uncertain_classes(estimator.uncertain_classes)
        if sampler is not None:
            loop = runner.train_loop
            if hasattr(loop, 'dataloader_iterator'):
                loop.dataloader_iterator = _InfiniteDataloaderIterator(loop.dataloader)
            rate = sampler.class_sampling_rate()
            print_log('SoftBalanceSampler: expected share of drawn images containing each class '
                      f'{[round(float(r), 3) for r in rate]}', logger='current')

    @staticmethod
    def _sampler(runner) -> Optional[SoftBalanceSampler]:
        loader = getattr(runner.train_loop, 'dataloader', None)
        sampler = getattr(loader, 'sampler', None)
        if isinstance(sampler, SoftBalanceSampler):
            return sampler
        batch_sampler = getattr(loader, 'batch_sampler', None)
        sampler = getattr(batch_sampler, 'sampler', None)
        return sampler if isinstance(sampler, SoftBalanceSampler) else None

    @staticmethod
    def _log(summary: dict) -> None:
        per_class = ', '.join(f'{n}: {v:.4f}' for n, v in zip(summary['classes'],
                                                              summary['class_uncertainty']))
        print_log(f'target class uncertainty I^c: {per_class}; S_k (top {summary["top_k"]}): '
                  f'{summary["uncertain_classes"]}', logger='current', level=logging.INFO)


def _read(path: str) -> dict:
    if not osp.isfile(path):
        raise FileNotFoundError(f'uncertainty_file {path} does not exist')
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{path} is not a class_uncertainty.json: {e}') from None
