"""Self-training with the source classifier frozen as the fixed source hypothesis (ATP's Align)."""
from typing import List, Optional, Union

from mmseg.registry import MODELS

from .self_training_segmentor import SelfTrainingSegmentor


@MODELS.register_module()
class FrozenClassifierSegmentor(SelfTrainingSegmentor):
    """:class:`SelfTrainingSegmentor` whose classifier never trains (SHOT's source hypothesis).

    ATP's Align step (arXiv:2106.11653, Sec. 3) keeps the source model's final prediction layer
    fixed and adapts the feature extractor, so that target features move into the regions the
    source classifier separates confidently. The classifier is named in the config (it differs
    between networks: DeepLabV2's ASPP *is* the classifier, ``'decode_head'``; DAFormer's is
    ``'decode_head.conv_seg'``); its parameters are excluded from whatever ``trainable`` selects,
    now and whenever :meth:`set_trainable` is called again (e.g. by ``TrainableScheduleHook``).

    Args:
        frozen_classifier (str): Name of the student's classifier module, as in
            ``student.named_modules()``.
        **kwargs: See :class:`SelfTrainingSegmentor`.

    Raises:
        ValueError: ``frozen_classifier`` names no module of the student (the message lists the
            decode head's modules), or the module has no parameters.
    """

    def __init__(self, frozen_classifier: str, **kwargs):
        self.frozen_classifier = frozen_classifier
        self._classifier_params = None
        super().__init__(**kwargs)

    def set_trainable(self, trainable: Optional[Union[str, List[str]]]) -> List[str]:
        """As :meth:`BaseAdaptationSegmentor.set_trainable`, then freeze the classifier."""
        if self._classifier_params is None:
            self._classifier_params = self._classifier_parameter_names()
        chosen = [n for n in super().set_trainable(trainable) if n not in self._classifier_params]
        params = dict(self.student.named_parameters())
        for n in self._classifier_params:
            params[n].requires_grad_(False)
        if not chosen:
            raise ValueError(f'trainable={trainable!r} selects only the frozen classifier '
                             f'{self.frozen_classifier!r}: nothing would adapt')
        return chosen

    def _classifier_parameter_names(self) -> frozenset:
        modules = dict(self.student.named_modules())
        if self.frozen_classifier not in modules:
            heads = [n for n in modules if n.startswith('decode_head')][:12]
            raise ValueError(
                f'model.frozen_classifier={self.frozen_classifier!r} is not a module of the '
                f'student ({type(self.student).__name__}); its decode head has {heads}. '
                "DeepLabV2's classifier is 'decode_head', DAFormer's 'decode_head.conv_seg'")
        prefix = self.frozen_classifier + '.'
        names = frozenset(n for n, _ in self.student.named_parameters() if n.startswith(prefix))
        if not names:
            raise ValueError(f'model.frozen_classifier={self.frozen_classifier!r} has no '
                             'parameters to freeze')
        return names
