from . import bn_stats_warmup_hook, mean_teacher_hook, pseudo_label_stats_hook  # noqa: F401
