# Toy-benchmark runtime on top of the SGD + poly schedule: frequent logs, checkpoints at each
# validation, no visualisation (seed 0 comes from the default runtime). Children set max_iters,
# val_interval, the lr, and repeat param_scheduler / train_cfg / the checkpoint interval so that
# they follow them.
_base_ = ['./sgd_poly_iter.py']
default_hooks = dict(logger=dict(interval=50), visualization=dict(draw=False))
