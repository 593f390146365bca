"""mmsfda: domain-adaptive and source-free domain-adaptive segmentation on mmseg 1.x.

``import mmsfda`` (or ``custom_imports=dict(imports=['mmsfda'])`` in a config) registers every module
into mmseg's registries, applies the stack compatibility fixes of :mod:`mmsfda.compat` and
registers the ``pretrained://`` checkpoint scheme (:mod:`mmsfda.utils.pretrained`). It first checks
the installed mmengine / mmcv / mmseg versions (:mod:`mmsfda.version_check`).
"""
__version__ = '0.1.0'

from .version_check import check_versions  # noqa: E402

check_versions()

from . import compat  # noqa: F401,E402  (first: patches mmengine's checkpoint loading)
from . import datasets, engine, evaluation, models  # noqa: F401,E402
from .utils import pretrained  # noqa: F401,E402  (the pretrained:// scheme)
