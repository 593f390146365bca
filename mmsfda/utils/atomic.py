"""Writes that a killed process cannot leave half done."""
import os
import os.path as osp
import tempfile
from typing import Union


def atomic_write(path: str, data: Union[bytes, str]) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    Readers see the old file or the new one, never a part; the folder is created if needed and the
    temporary file is removed if writing fails.

    Args:
        path (str): Destination file.
        data (bytes | str): Content; ``str`` is written as UTF-8.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp-', suffix=osp.basename(path))
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data.encode('utf-8') if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
