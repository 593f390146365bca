"""One optimiser wrapper per submodule (adversarial training: segmenter and discriminator)."""
import copy

from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MultiOptimWrapperConstructor:
    """Build an :class:`OptimWrapperDict`: one optimiser wrapper per named submodule.

    Config::

        optim_wrapper = dict(
            constructor='MultiOptimWrapperConstructor',
            student=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=2.5e-4)),
            discriminator=dict(type='OptimWrapper', module='aux.discriminator',
                               optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99))))

    Each entry is an ordinary ``optim_wrapper`` config (``paramwise_cfg`` and ``constructor``
    allowed inside it) for the submodule at ``module`` (a dotted path; default: the entry's
    name). ``param_scheduler`` is then a dict with the same names.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg=None):
        if paramwise_cfg is not None:
            raise ValueError('MultiOptimWrapperConstructor: give paramwise_cfg inside each '
                             'optimiser entry, not at the top level')
        if not optim_wrapper_cfg or not all(isinstance(v, dict) for v in optim_wrapper_cfg.values()):
            raise ValueError('MultiOptimWrapperConstructor needs optim_wrapper entries '
                             f'`name=dict(type=..., optimizer=...)`, got {optim_wrapper_cfg}')
        self.cfgs = copy.deepcopy(dict(optim_wrapper_cfg))

    def __call__(self, model) -> OptimWrapperDict:
        model = model.module if is_model_wrapper(model) else model
        wrappers = {}
        for name, cfg in self.cfgs.items():
            cfg = copy.deepcopy(cfg)
            path = cfg.pop('module', name)
            try:
                sub = model.get_submodule(path)
            except AttributeError:
                raise ValueError(f'optim_wrapper.{name}: the model ({type(model).__name__}) has no '
                                 f'submodule {path!r} (set `module=` to a dotted path)') from None
            kind = cfg.pop('constructor', 'DefaultOptimWrapperConstructor')
            paramwise = cfg.pop('paramwise_cfg', None)
            constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
                dict(type=kind, optim_wrapper_cfg=cfg, paramwise_cfg=paramwise))
            wrappers[name] = constructor(sub)
        return OptimWrapperDict(**wrappers)
