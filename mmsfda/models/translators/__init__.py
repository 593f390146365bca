from .learned_translated_view import LearnedTranslatedView  # noqa: F401
from .munit_lite import MUNITLite, MUNITLiteGenerator  # noqa: F401
