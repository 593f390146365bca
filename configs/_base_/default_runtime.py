# Runtime shared by every mmsfda config. Runs unchanged with mmseg's own tools/train.py and
# tools/test.py: `custom_imports` registers mmsfda's modules into mmseg's registries.
custom_imports = dict(imports=['mmsfda'], allow_failed_imports=False)
default_scope = 'mmseg'
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
# TensorBoard: install the extra (`pip install -e .[tensorboard]`, tensorboard pinned in
# requirements/tensorboard.txt) and add its backend, e.g. for one run
#   --cfg-options "vis_backends=[dict(type='LocalVisBackend'),dict(type='TensorboardVisBackend')]" \
#                 "visualizer.vis_backends=[dict(type='LocalVisBackend'),dict(type='TensorboardVisBackend')]"
# then `tensorboard --logdir <work_dir>` (scalars under <work_dir>/<timestamp>/vis_data).
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
# A fixed seed by default: mmengine builds the train dataloader before it restores a checkpoint, so
# only a seed known at build time replays the data order of an interrupted run exactly on resume.
randomness = dict(seed=0)
# A checkpoint tensor whose shape differs from the model's (e.g. another num_classes) is an error
# naming the keys, not mmengine's warning followed by random weights (mmsfda.compat, item 2).
strict_checkpoint_shapes = True
load_from = None
resume = False
# `tools/test.py --tta` wraps the model in SegTTAModel and runs the dataset base's tta_pipeline.
tta_model = dict(type='SegTTAModel')
# Under DDP the adaptation segmentors run their own train_step (early source backward, several
# optimisers); mmengine's wrapper would ignore it. Plain mmseg models get mmengine's step.
model_wrapper_cfg = dict(type='AdaptationDistributedDataParallel')
