# DiGA's image translator (MUNITLite, mmsfda/models/translators/munit_lite.py; arXiv:2304.02222,
# Sec. 3.2, the translated view of the cross-domain mixture): MUNIT's content encoder and decoder
# per domain without a style code (7x7 conv 64, two stride-2 4x4 convs to 256, 4 residual blocks,
# instance norm, reflect padding; the decoder mirrors it with x2 upsampling + 5x5 convs and a tanh
# output) and a 3-scale LS-GAN discriminator per domain (4 stride-2 convs from width 64).
# Shared by the translator's training config and the configs that consume its checkpoint
# (LearnedTranslatedView needs the same generator arguments).
munit_generator = dict(in_channels=3, base_channels=64, num_downsample=2, num_res_blocks=4)
munit_discriminator = dict(base_channels=64, num_layers=4, num_scales=3)
# The frozen translator of a consuming config's cross-domain mixture (its weights: the translator
# checkpoint as load_from, or checkpoint=<file>):
#   model = dict(mixture=dict(translator=dict(_base_.munit_translated_view, _delete_=True)))
munit_translated_view = dict(type='LearnedTranslatedView', generator=munit_generator,
                             image_size=(512, 896), checkpoint=None)
