from .evaluate import evaluate_checkpoint  # noqa: F401
from .train import run_name, train_config  # noqa: F401
