from . import transforms  # noqa: F401
from . import acdc, gta5, synthia  # noqa: F401
from . import toy_city  # noqa: F401
from . import domain_pair_dataset  # noqa: F401
from . import easy_hard_pair_dataset  # noqa: F401
from . import soft_balance_sampler  # noqa: F401
