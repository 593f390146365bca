from .config_utils import (config_key, data_roots, load_config,  # noqa: F401
                           redirect_data_root, sha256_json, shorten_schedule)
from .evaluate import evaluate_checkpoint  # noqa: F401
from .inference import build_inferencer, segment_images  # noqa: F401
from .train import (finished_run, read_manifest, run_name,  # noqa: F401
                    train_config, training_wall_time)
