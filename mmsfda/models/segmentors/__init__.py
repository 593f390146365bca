from . import (adversarial_segmentor, daformer_segmentor,  # noqa: F401
               ece_estimating_encoder_decoder, ensemble_segmentor, fda_segmentor,
               hrda_encoder_decoder, self_training_segmentor)
from .adaptation_student import AdaptationStudent  # noqa: F401
from .base_adaptation_segmentor import (BaseAdaptationSegmentor, Branch,  # noqa: F401
                                        StudentView, crop_pseudo_labels, plain_state_dict,
                                        stack_labels)
from .student_outputs import LogitView, StudentOutputs  # noqa: F401
from . import uplr_segmentor  # noqa: F401,E402
from . import diga_segmentor  # noqa: F401,E402
from . import (atp_propagate_segmentor, cropped_relabel_segmentor,  # noqa: F401
               frozen_classifier_segmentor)
from . import t2sda_segmentor  # noqa: F401,E402
from . import max_fusion_tta_model  # noqa: F401,E402
