import os
import os.path as osp
import platform
import shutil
import sys

from setuptools import find_packages, setup

ROOT = osp.dirname(osp.abspath(__file__))
#: What OpenMMLab's `mim` expects under `<package>/.mim` (`mim train mmsfda CONFIG` runs
#: `mmsfda/.mim/tools/train.py`; `mim search` reads the model index).
MIM_FILES = ('configs', 'tools', 'demo', 'model-index.yml')


def readme():
    with open(osp.join(ROOT, 'README.md'), encoding='utf-8') as f:
        return f.read()


def requirements(*names):
    """The requirement lines of ``requirements/<name>.txt`` (comments and blanks dropped)."""
    lines = []
    for name in names:
        with open(osp.join(ROOT, 'requirements', f'{name}.txt')) as f:
            for line in f:
                line = line.split('#', 1)[0].strip()
                if line:
                    lines.append(line)
    return lines


def add_mim_extension():
    """Put configs, tools and the model index under ``mmsfda/.mim`` as mim expects (mmseg does the
    same): links for an editable install, copies when a wheel or sdist is built."""
    if any(cmd in sys.argv for cmd in ('develop', 'editable_wheel')):
        mode = 'copy' if platform.system() == 'Windows' else 'symlink'
    elif any(cmd in sys.argv for cmd in ('sdist', 'bdist_wheel', 'build', 'install')):
        mode = 'copy'
    else:
        return
    mim_path = osp.join(ROOT, 'mmsfda', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(ROOT, name), osp.join(mim_path, name)
        if not osp.exists(src):
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_path), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmsfda',
        version='0.1.0',
        description='Domain-adaptive and source-free domain-adaptive semantic segmentation for '
                    'mmseg 1.x',
        long_description=readme(),
        long_description_content_type='text/markdown',
        packages=find_packages(exclude=('configs', 'tools', 'tests', 'demo')),
        include_package_data=True,
        python_requires='>=3.10',
        # The tested stack, pinned (torch too: a bare `torch` resolves to whatever is newest).
        # tools/install/install.sh installs the same files (and builds mmcv for the local torch).
        install_requires=requirements('torch', 'mmcv', 'runtime'),
        extras_require={
            'toy': requirements('toy'),  # tools/make_toy_data.py only
            'datasets': requirements('datasets'),  # mmseg's Cityscapes converter
            'tensorboard': requirements('tensorboard'),  # the TensorBoard vis backend
            'analysis': requirements('analysis'),  # seaborn for mmseg's analyze_logs.py
            'tests': requirements('tests'),
        },
        license='Apache License 2.0',
        zip_safe=False,
    )
