from .config_utils import (config_key, data_roots, load_config,  # noqa: F401
                           redirect_data_root, sha256_json, shorten_schedule)
from .evaluate import evaluate_checkpoint  # noqa: F401
from .inference import build_inferencer, segment_images  # noqa: F401
from .train import (add_toy_run_options, finished_run, read_cached_result,  # noqa: F401
                    read_manifest, run_name, train_config, training_wall_time)
