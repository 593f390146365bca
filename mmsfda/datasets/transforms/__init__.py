from . import checked_loading  # noqa: F401
