from setuptools import find_packages, setup


def readme():
    with open('README.md', encoding='utf-8') as f:
        return f.read()


setup(
    name='mmsfda',
    version='0.1.0',
    description='Domain-adaptive and source-free domain-adaptive semantic segmentation for mmseg 1.x',
    long_description=readme(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    python_requires='>=3.10',
    # torch, mmcv, mmengine and mmseg are installed (pinned) by tools/install/install.sh; listing torch
    # here unpinned would pull a CUDA build.
    install_requires=[],
    license='Apache License 2.0',
)
