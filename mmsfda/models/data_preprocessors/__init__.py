from . import domain_data_preprocessor  # noqa: F401
