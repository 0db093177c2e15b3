"""Split-able models, per-layer cost profiles, datasets, partitioners and batch streams.

The names below load their modules when first used: checking a scenario's model (its layer
count, its input size, :mod:`fedsl_sim.learning.models`) does not import torch. The partition
function is :func:`fedsl_sim.learning.partition.partition` (its module has the same name).
"""

from __future__ import annotations

from fedsl_sim._lazy import lazy_getattr

_WHERE = {
    "BatchStream": "batches",
    "DATASETS": "data",
    "Dataset": "data",
    "load_dataset": "data",
    "stratified_split": "data",
    "LayerCost": "flops",
    "backward_flops": "flops",
    "forward_flops": "flops",
    "profile_layers": "flops",
    "MODELS": "models",
    "VGG": "models",
    "ModelSpec": "models",
    "SmallCNN": "models",
    "build_layers": "models",
    "check_split_layer": "models",
    "init_parameters": "models",
    "layer_count": "models",
    "layer_names": "models",
    "make_spec": "models",
    "PARTITIONS": "partition",
    "dirichlet": "partition",
    "iid": "partition",
    "shards": "partition",
}

__all__ = sorted(_WHERE)


__getattr__ = lazy_getattr(__name__, _WHERE)
