"""MaxFusionSegTTAModel: DiGA's element-wise max fusion of the views' logits."""
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample


def sample(logits):
    s = SegDataSample(metainfo=dict(img_path='a.png'))
    s.seg_logits = PixelData(data=torch.tensor(logits).view(3, 1, 2))
    return s


def test_max_fusion_not_mean():
    tta = MODELS.build(dict(type='MaxFusionSegTTAModel', module=dict(
        type='EncoderDecoder', backbone=dict(type='ResNetV1c', depth=18),
        decode_head=dict(type='FCNHead', in_channels=512, channels=8, num_classes=3))))
    # pixel 0: view a is sure of class 0 (3.0), view b mildly prefers class 1 in both views;
    # the mean of probabilities picks class 1, the max of logits class 0.
    a = sample([3.0, 0.0, 2.0, 1.0, -5.0, 0.0])
    b = sample([-5.0, 0.0, 2.5, 1.5, 2.4, 0.0])
    out = tta.merge_preds([[a, b]])[0]
    assert out.pred_sem_seg.data.flatten().tolist() == [0, 1]
    assert torch.equal(out.seg_logits.data.flatten(),
                       torch.tensor([3.0, 0.0, 2.5, 1.5, 2.4, 0.0]))
