from .evaluate import evaluate_checkpoint  # noqa: F401
from .train import train_config  # noqa: F401
