from . import ece_estimating_encoder_decoder, self_training_segmentor  # noqa: F401
