"""DDP that lets an adaptation segmentor run its own training step."""
from mmengine.model import MMDistributedDataParallel
from mmseg.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class AdaptationDistributedDataParallel(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` that hands the step to the model's ``train_step``.

    mmengine's DDP wrapper runs its own ``train_step`` (preprocess, one forward, one
    ``update_params``) and never calls the inner module's, so the early source backward and the
    several-optimiser steps of :class:`~mmsfda.models.segmentors.BaseAdaptationSegmentor` would be
    silently skipped. Here the model's ``train_step(data, optim_wrapper, ddp=self)`` runs instead,
    and every forward it makes goes through this wrapper (``ddp(**data, mode=...)``), so DDP
    synchronises the gradients of each backward. Models without ``ddp`` support (plain mmseg
    segmentors) get mmengine's step unchanged.

    A model with several optimiser steps (``optim_steps``) always leaves parameters unused in
    each step's forward (the discriminator step does not touch the student): for it
    ``find_unused_parameters`` is switched on here, so its configs need not say so.
    """

    def __init__(self, module, **kwargs):
        if len(getattr(module, 'optim_steps', ())) > 1:
            kwargs['find_unused_parameters'] = True
        super().__init__(module=module, **kwargs)

    def train_step(self, data, optim_wrapper):
        if getattr(self.module, 'runs_own_train_step', False):
            return self.module.train_step(data, optim_wrapper, ddp=self)
        return super().train_step(data, optim_wrapper)
