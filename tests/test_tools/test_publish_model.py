"""tools/publish_model.py: the exported student loads into a plain mmseg model and predicts the same."""
import hashlib
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.runner.checkpoint import load_checkpoint
from mmseg.registry import MODELS

from conftest import REPO
from test_models.test_segmentors import adaptation_models as am


def test_exported_student_loads_into_a_plain_config(tmp_path):
    torch.manual_seed(0)
    model = MODELS.build(am.dacs_cfg(REPO))
    model.init_weights()
    with torch.no_grad():
        model.student.decode_head.aspp[0].bias.add_(0.5)  # student and teacher differ
    src = str(tmp_path / 'iter_2.pth')
    torch.save(dict(meta=dict(seed=0), state_dict=model.state_dict(),
                    optimizer=dict(state={}), message_hub={}), src)
    proc = subprocess.run([sys.executable, 'tools/publish_model.py', src,
                           str(tmp_path / 'dacs.pth')], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    final = proc.stdout.strip().splitlines()[-1]
    with open(final, 'rb') as f:
        assert final.endswith(f'-{hashlib.sha256(f.read()).hexdigest()[:8]}.pth')
    ckpt = torch.load(final, map_location='cpu', weights_only=False)
    assert set(ckpt) == {'meta', 'state_dict'} and ckpt['meta']['seed'] == 0
    assert not any(k.startswith(('student.', 'teacher.')) for k in ckpt['state_dict'])
    plain = MODELS.build(am.student_cfg(REPO))
    load_checkpoint(plain, final, map_location='cpu', strict=True)
    model.eval()
    plain.eval()
    data = plain.data_preprocessor(am.batch(with_gt=False), False)
    with torch.no_grad():
        ours = model(**data, mode='predict')
        theirs = plain(**data, mode='predict')
    for a, b in zip(ours, theirs):
        assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)
        assert torch.allclose(a.seg_logits.data, b.seg_logits.data)


def test_teacher_part_and_errors(tmp_path):
    model = MODELS.build(am.dacs_cfg(REPO))
    model.init_weights()
    src = str(tmp_path / 'a.pth')
    torch.save(dict(meta={}, state_dict=model.state_dict()), src)
    sys.path.insert(0, osp.join(REPO, 'tools'))
    from publish_model import publish

    from mmsfda.models.segmentors import plain_state_dict
    teacher = plain_state_dict(model.state_dict(), 'teacher')
    assert torch.equal(teacher['decode_head.aspp.0.bias'], model.teacher.decode_head.aspp[0].bias)
    no_teacher = MODELS.build(dict(type='SelfTrainingSegmentor', student=am.student_cfg(REPO)))
    with pytest.raises(ValueError, match='no teacher weights'):
        plain_state_dict(no_teacher.state_dict(), 'teacher')
    with pytest.raises(FileNotFoundError, match='not found'):
        publish(str(tmp_path / 'missing.pth'), str(tmp_path / 'x.pth'))
