"""mmsfda: domain-adaptive and source-free domain-adaptive segmentation on mmseg 1.x.

``import mmsfda`` (or ``custom_imports=dict(imports=['mmsfda'])`` in a config) registers every module
into mmseg's registries and applies the stack compatibility fixes of :mod:`mmsfda.compat`.
"""
__version__ = '0.1.0'

from . import compat  # noqa: F401,E402  (first: patches mmengine's checkpoint loading)
from . import datasets, engine, evaluation, models  # noqa: F401,E402
