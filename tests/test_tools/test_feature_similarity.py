"""tools/analysis/feature_similarity.py: per-class source/target feature cosine, table and plot."""
import json

import pytest
import torch

from conftest import REPO
from mmsfda.utils.repo_tools import load_repo_tool
from test_engine.toy_self_training import make_source_checkpoint, make_toy_data

T2SDA = 'configs/t2sda/t2sda-daformer_mit-tiny_1xb4-300_toy-source-to-target-128x256.py'
SOURCE = 'configs/source_only/daformer_mit-tiny_1xb4-800_toy-source-128x256.py'


def test_similarity_of_plain_and_adaptation_checkpoints(tmp_path):
    tool = load_repo_tool('analysis/feature_similarity')
    data = make_toy_data(str(tmp_path))
    plain = make_source_checkpoint(str(tmp_path / 'plain.pth'), config=T2SDA)
    # an adaptation checkpoint: the same weights under student./teacher. keys
    state = torch.load(plain, map_location='cpu', weights_only=False)['state_dict']
    adapted = {f'{p}.{k}': v for k, v in state.items() for p in ('student', 'teacher')}
    torch.save(dict(state_dict=adapted), tmp_path / 'adapted.pth')
    out = str(tmp_path / 'sim')
    text = tool.main(['--model', 'plain', f'{REPO}/{SOURCE}', plain,
                      '--model', 'adapted', f'{REPO}/{T2SDA}', str(tmp_path / 'adapted.pth'),
                      '--data', data, '--out', out]) or open(out + '.md').read()
    result = json.load(open(out + '.json'))
    sims = result['models']['plain']['similarity']
    assert len(sims) == 10 and result['models']['adapted']['similarity'] == sims
    present = [s for s in sims if s is not None]
    assert present and all(-1 - 1e-5 <= s <= 1 + 1e-5 for s in present)
    assert (tmp_path / 'sim.png').stat().st_size > 0 and '| mean |' in text
    with pytest.raises(ValueError, match='does not fit the network'):
        tool.load_student(f'{REPO}/configs/source_only/'
                          'deeplabv2_r18-tiny_1xb4-800_toy-source-128x256.py', plain)
