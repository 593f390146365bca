"""Initialise DiGA's class prototypes from the warm-up model's target features before self-training."""
import logging
from typing import Union

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS
from torch.utils.data import DataLoader


@HOOKS.register_module()
class PrototypeInitHook(Hook):
    """Fill ``model.aux['prototypes']`` (a ``ClassPrototypes``) before the first training step.

    DiGA (arXiv:2304.02222; its ``calc_centroids``) runs the warm-up model over the target train
    images several times; per image and class with enough argmax pixels, the class-mean feature
    enters a running mean with a capped count. The model does the per-batch work
    (:meth:`DiGASegmentor.prototype_init_step`); this hook only feeds it the batches, in eval mode
    and under ``no_grad``.

    Resume: prototypes already initialised (a resumed run, or a checkpoint that holds them) are
    left as they are, so a resumed run continues with the saved values.

    Args:
        dataloader (dict | DataLoader): Target train images with a test-time pipeline (every
            image once per pass). Built with ``Runner.build_dataloader``.
        passes (int): Passes over the loader. DiGA: 5 (its loader crops at random). With a
            deterministic pipeline a second pass only re-weights the running mean once the
            count cap is reached.
        module (str): Key of the prototypes in ``model.aux``. Defaults to 'prototypes'.
    """
    priority = 'LOW'  # after the checkpoint is loaded and the EMA hook has collected the teacher

    def __init__(self, dataloader: Union[dict, DataLoader], passes: int = 1,
                 module: str = 'prototypes'):
        if not (isinstance(passes, int) and passes > 0):
            raise ValueError(f'PrototypeInitHook: passes must be a positive int, got {passes!r}')
        self.dataloader = dataloader
        self.passes = passes
        self.module = module

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not callable(getattr(model, 'prototype_init_step', None)):
            raise TypeError(f'PrototypeInitHook needs a DiGASegmentor (prototype_init_step); the '
                            f'model is a {type(model).__name__}')
        aux = getattr(model, 'aux', {})
        if self.module not in aux:
            raise KeyError(f'PrototypeInitHook: model.aux has no {self.module!r} (it has '
                           f'{sorted(aux.keys())}): configure aux=dict({self.module}=dict('
                           "type='ClassPrototypes', ...))")
        prototypes = aux[self.module]
        if bool(prototypes.initialized):
            print_log('PrototypeInitHook: the prototypes come from the checkpoint; not '
                      're-initialised', logger='current')
            return
        loader = self.dataloader
        if isinstance(loader, dict):
            loader = runner.build_dataloader(loader, seed=runner.seed)
        was_training = model.training
        model.eval()
        prototypes.start_init()
        try:
            with torch.no_grad():
                for _ in range(self.passes):
                    for data in loader:
                        data = model.data_preprocessor(data, False)
                        model.prototype_init_step(data['inputs'])
        finally:
            model.train(was_training)
        prototypes.finish_init()
        seen = int((prototypes.counts > 0).sum())
        print_log(f'PrototypeInitHook: prototypes of {seen}/{prototypes.num_classes} classes from '
                  f'{self.passes} pass(es) over {len(loader.dataset)} target images',
                  logger='current',
                  level=logging.INFO if seen == prototypes.num_classes else logging.WARNING)
