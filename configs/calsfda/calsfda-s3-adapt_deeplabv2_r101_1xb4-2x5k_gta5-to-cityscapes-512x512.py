# Cal-SFDA stage 3 on gta5 -> Cityscapes, the hyper-parameters of the paper (arXiv:2308.03003)
# and its public code on the toy
# stage-3 recipe (see calsfda-s3-adapt_deeplabv2_r18-tiny_*.py for the steps): BN warm-up of the
# encoder and value net, ECE-guided class-balanced labels per round (cb_prop 0.15, local_prop 0.1,
# +0.05 per round), SCE (a 0.1, b 1.0) + negative learning + robust entropy, BN-only first epoch
# then decoder only, SGD lr 5e-5 divided by sqrt(2) after each round, label-free selection by the
# mean estimated ECE on Cityscapes val. The value net reads the decoder's output as well as layer4
# (ECEValueHead use_decoder=True, a reconstruction; the public code's reads layer4 only, which with
# frozen BN gives the same estimate at every validation of the decoder-only phase), and its BN
# statistics are re-estimated on 500 target train images before every validation. An epoch of 2975
# images at batch 4 is ~744 iterations; the paper's 20 epochs per round are ~15k iterations,
# shortened here to 5k per round.
#   --cfg-options load_from=<stage-2 checkpoint>
_base_ = [
    '../_base_/models/deeplabv2_r101_caffe.py', '../_base_/methods/calsfda_s3.py',
    '../_base_/datasets/cityscapes_512x512_target_offline.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_cityscapes.py'
]
num_classes = 19
round_iters = 5000
epoch_iters = 744
model = dict(
    _base_.method_model,
    _delete_=True,
    student=dict(
        _base_.model,
        type='ECEEstimatingEncoderDecoder',
        decode_head=dict(_base_.model.decode_head, num_classes=num_classes),
        value_head=dict(type='ECEValueHead', in_channels=2048, num_classes=num_classes,
                        channels=128, require_in_checkpoint=True)),
    pseudo_labeler=dict(_base_.method_model.pseudo_labeler, num_classes=num_classes))
train_cfg = dict(
    _delete_=True,
    type='SelfTrainingLoop',
    rounds=[round_iters, round_iters],
    val_interval=1000,
    label_dataloader={{_base_.cityscapes_label_dataloader}})
optim_wrapper = dict(optimizer=dict(lr=5e-5, nesterov=True))
param_scheduler = [
    dict(type='StepLR', step_size=round_iters, gamma=0.7071, begin=0, end=2 * round_iters,
         by_epoch=False)
]
val_evaluator = [*_base_.val_evaluator, dict(type='EstimatedECEMetric')]
test_evaluator = val_evaluator
default_hooks = dict(
    _base_.method_hooks,
    checkpoint=dict(interval=1000, max_keep_ckpts=-1, save_best=['EstECE', 'mIoU'],
                    rule=['less', 'greater']),
    bn_warmup=dict(_base_.method_hooks.bn_warmup,
                   dataloader={{_base_.cityscapes_label_dataloader}}, reestimate_iters=500),
    trainable_schedule=dict(
        _base_.method_hooks.trainable_schedule,
        phases=dict(_base_.method_hooks.trainable_schedule.phases,
                    decoder=dict(_base_.method_hooks.trainable_schedule.phases.decoder,
                                 begin=epoch_iters))))
# TrainableScheduleHook changes the trainable parameters after DDP has wrapped the model.
model_wrapper_cfg = dict(find_unused_parameters=True)
