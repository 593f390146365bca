"""setup.py: pinned dependencies from requirements/, the extras, and what mim finds in mmsfda/.mim."""
import os.path as osp
import runpy

from conftest import REPO


def test_dependencies_are_pinned_and_mim_files_exist():
    setup = runpy.run_path(osp.join(REPO, 'setup.py'), run_name='not_main')
    install = setup['requirements']('torch', 'mmcv', 'runtime')
    for pinned in ('torch==2.13.0', 'mmcv==2.1.0', 'mmengine==0.10.7', 'mmsegmentation==1.2.2'):
        assert pinned in install
    assert not any(r.startswith('albumentations') for r in install)  # the toy generator's extra
    assert setup['requirements']('toy') == ['albumentations==2.0.8']
    assert setup['requirements']('tensorboard')[0].startswith('tensorboard==')
    assert setup['requirements']('datasets') == ['cityscapesscripts==2.2.4']
    for name in setup['MIM_FILES']:
        if name != 'demo' or osp.isdir(osp.join(REPO, 'demo')):
            assert osp.exists(osp.join(REPO, name)), name
    # the editable install links them into the package, as `mim train mmsfda CONFIG` expects
    mim = osp.join(REPO, 'mmsfda', '.mim')
    if osp.isdir(mim):
        assert osp.isfile(osp.join(mim, 'tools', 'train.py'))
        assert osp.isfile(osp.join(mim, 'model-index.yml'))
