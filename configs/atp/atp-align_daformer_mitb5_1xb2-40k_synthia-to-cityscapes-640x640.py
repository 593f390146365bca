# ATP align on SYNTHIA -> Cityscapes, public-code setting: the GTA5
# config from a SYNTHIA source model (19-way head, as DAFormer's SYNTHIA models), evaluated
# with mIoU19 / mIoU16 / mIoU13
# (the public code's SYNTHIA configs point at the GTA data; here the source is the user's SYNTHIA
# checkpoint and only target data is read).
_base_ = ['./atp-align_daformer_mitb5_1xb2-40k_gta5-to-cityscapes-640x640.py']
val_evaluator = _base_.synthia19_val_evaluator
test_evaluator = val_evaluator
