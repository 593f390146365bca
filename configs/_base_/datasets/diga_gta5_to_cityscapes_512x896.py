# GTA5 -> Cityscapes for DiGA (arXiv:2304.02222; its public code): batch 3 of (GTA5, Cityscapes)
# pairs, 512x896 crops, flip. GTA5 default: resized to fit (1280, 720), rescaled by U(0.7, 1),
# cropped. `diga_gta5_mixed_res_pipeline` is the code's mix (per batch 1 low-res 1280x720 + 2
# full-res 1914x1052 images, each rescaled by U(0.7, 1)): here each image is full-res with
# probability 2/3 (the same mix in expectation); see the *_mixed-res_* config.
_base_ = ['./gta5_512x512.py', './diga_cityscapes_512x896.py']
diga_gta5_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(1280, 720), ratio_range=(0.7, 1.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(512, 896)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
diga_gta5_mixed_res_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomChoice',
         transforms=[[dict(type='RandomResize', scale=(1280, 720), ratio_range=(0.7, 1.0),
                           keep_ratio=True)],
                     [dict(type='RandomResize', scale=(1914, 1052), ratio_range=(0.7, 1.0),
                           keep_ratio=True)]],
         prob=[1 / 3, 2 / 3]),
    dict(type='RandomCrop', crop_size=(512, 896)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
diga_gta5_dataset = dict(_base_.gta5_train_dataset, pipeline=diga_gta5_pipeline)
# The source base's loader (4 workers, infinite sampler) with batches of 3 pairs.
train_dataloader = dict(
    batch_size=3,
    dataset=dict(
        _delete_=True,  # not the source base's single dataset
        type='DomainPairDataset',
        source=diga_gta5_dataset,
        target=dict(_base_.cityscapes_train_dataset, pipeline=_base_.diga_cityscapes_train_pipeline)))
