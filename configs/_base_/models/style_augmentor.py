# Jackson et al.'s style augmentation (arXiv:1809.05375), T2S-DA's learned DG view: the published
# Ghiasi et al. style-transfer network and Inception-v3 style predictor, random Painter-by-Numbers
# styles mixed half-half with the image's own (alpha 0.5), at full resolution. The three weight
# files are the published ones under pretrained/ (docs/pretrained.md); a missing one stops the
# build with a FileNotFoundError naming it.
style_augmentor_view = dict(
    type='StyleAugmentor',
    alpha=0.5,
    downsamples=0,
    weights=dict(transformer='pretrained://styleaug_checkpoint_transformer.pth',
                 predictor='pretrained://styleaug_checkpoint_stylepredictor.pth',
                 embeddings='pretrained://styleaug_checkpoint_embeddings.pth'))
