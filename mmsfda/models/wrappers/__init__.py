from .adaptation_distributed_data_parallel import AdaptationDistributedDataParallel  # noqa: F401
