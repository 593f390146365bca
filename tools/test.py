"""Thin wrapper: mmseg's own tools/test.py with mmsfda imported first.

Configs already say custom_imports=dict(imports=['mmsfda']), so mmseg's tool works unchanged;
this wrapper only saves looking up where mmseg installed it. Same arguments as mmseg's.
"""
from mmsfda.utils import run_mmseg_tool

if __name__ == '__main__':
    run_mmseg_tool('test.py')
