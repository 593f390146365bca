# Cal-SFDA stage 1 on GTA5 (../_base_/methods/calsfda_s1_deeplabv2_r101.py), validated on a held-out
# GTA5 split every 4k iterations. Batch 4 as the paper; 40k iterations stand for its 40 epochs.
_base_ = [
    '../_base_/methods/calsfda_s1_deeplabv2_r101.py', '../_base_/datasets/gta5_split_512x512.py'
]
model = dict(decode_head=dict(num_classes=19))
train_dataloader = dict(batch_size=4)
