"""Import a script of the repository's ``tools/`` folder as a module, once per process."""
import importlib.util
import os.path as osp
import sys
from types import ModuleType

TOOLS = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools')


def load_repo_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` as the module ``name``, registered in ``sys.modules``.

    Registered so that worker processes unpickle its functions by name, and loaded once: a second
    copy under the same name would make the first copy's functions unpicklable ("not the same
    object"), which is what happened when two callers loaded ``make_toy_data`` separately.
    """
    path = osp.join(TOOLS, f'{name}.py')
    module = sys.modules.get(name)
    if module is not None and osp.abspath(getattr(module, '__file__', '') or '') == path:
        return module
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} not found: the tools/ folder of the repository is needed')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
