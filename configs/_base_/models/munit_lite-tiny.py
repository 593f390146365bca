# The toy (CPU-sized) MUNITLite: ./munit_lite.py at a quarter of the width (16), one residual block
# per encoder and decoder, 2-scale discriminators of 3 stride-2 convs (width 16) for 128x256 crops.
munit_generator = dict(in_channels=3, base_channels=16, num_downsample=2, num_res_blocks=1)
munit_discriminator = dict(base_channels=16, num_layers=3, num_scales=2)
# The frozen translator of a consuming toy config (as in ./munit_lite.py).
munit_translated_view = dict(type='LearnedTranslatedView', generator=munit_generator,
                             image_size=(128, 256), checkpoint=None)
