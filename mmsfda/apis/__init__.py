from .evaluate import evaluate_checkpoint  # noqa: F401
from .train import run_name, train_config, training_wall_time  # noqa: F401
