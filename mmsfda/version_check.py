"""The OpenMMLab versions mmsfda is built and tested against, checked on ``import mmsfda``.

:mod:`mmsfda.compat` patches private parts of mmengine 0.10.7 (checkpoint loading, the runner's
dataloader and resume logic) and the registries of mmseg 1.2.x; on another version those patches may
silently do the wrong thing, so an unsupported version is an ``ImportError`` that says what is
installed, what is needed and the pinned install command. ``MMSFDA_SKIP_VERSION_CHECK=1`` turns
the error into a warning (at your own risk).
"""
import os
import warnings
from importlib import metadata

from packaging.version import Version

__all__ = ['SUPPORTED', 'check_versions']

#: distribution name -> (minimum, exclusive maximum, the version requirements/runtime.txt pins).
SUPPORTED = {
    'mmengine': ('0.10.7', '0.11.0', '0.10.7'),
    'mmcv': ('2.0.0', '2.2.0', '2.1.0'),
    'mmsegmentation': ('1.2.2', '1.3.0', '1.2.2'),
}


def check_versions(installed=None) -> None:
    """Raise ``ImportError`` if an OpenMMLab package is missing or outside :data:`SUPPORTED`.

    Args:
        installed (dict[str, str] | None): Distribution name -> version, for tests; ``None``
            reads the installed distributions.
    """
    problems = []
    for name, (low, high, pinned) in SUPPORTED.items():
        if installed is not None:
            found = installed.get(name)
        else:
            try:
                found = metadata.version(name)
            except metadata.PackageNotFoundError:
                found = None
        if found is None:
            problems.append(f'{name} is not installed (mmsfda needs {name}=={pinned})')
        elif not Version(low) <= Version(found) < Version(high):
            problems.append(f'{name}=={found} is installed; mmsfda supports {low} <= {name} < '
                            f'{high} (tested with {pinned})')
    if not problems:
        return
    message = ('mmsfda cannot run on this OpenMMLab stack:\n  ' + '\n  '.join(problems) +
               '\nInstall the tested versions with `bash tools/install/install.sh` (or pip install '
               + ' '.join(f'{n}=={SUPPORTED[n][2]}' for n in SUPPORTED) +
               '; mmcv is built for your torch by that script). '
               'Set MMSFDA_SKIP_VERSION_CHECK=1 to import anyway.')
    if os.environ.get('MMSFDA_SKIP_VERSION_CHECK', '0') == '1':
        warnings.warn(message)
        return
    raise ImportError(message)
