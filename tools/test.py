"""Thin wrapper: mmseg's own tools/test.py with mmsfda imported first.

Configs already say custom_imports=dict(imports=['mmsfda']), so mmseg's tool works unchanged;
this wrapper saves looking up where mmseg installed it, and makes ``--out DIR`` work with our
configs' list of metrics (mmseg's tool fails on a list; see docs/analysis.md). Same arguments as
mmseg's.
"""
from mmsfda.utils import run_mmseg_tool

if __name__ == '__main__':
    run_mmseg_tool('test.py')
