"""Split-able models, per-layer cost profiles, datasets, partitioners and batch streams."""

from fedsl_sim.learning.batches import BatchStream
from fedsl_sim.learning.data import DATASETS, Dataset, load_dataset, stratified_split
from fedsl_sim.learning.flops import LayerCost, backward_flops, forward_flops, profile_layers
from fedsl_sim.learning.models import (
    MODELS,
    VGG,
    ModelSpec,
    SmallCNN,
    build_layers,
    check_split_layer,
    init_parameters,
    layer_count,
    layer_names,
    make_spec,
)
from fedsl_sim.learning.partition import PARTITIONS, dirichlet, iid, partition, shards

__all__ = [
    "DATASETS",
    "MODELS",
    "PARTITIONS",
    "VGG",
    "BatchStream",
    "Dataset",
    "LayerCost",
    "ModelSpec",
    "SmallCNN",
    "backward_flops",
    "build_layers",
    "check_split_layer",
    "dirichlet",
    "forward_flops",
    "iid",
    "init_parameters",
    "layer_count",
    "layer_names",
    "load_dataset",
    "make_spec",
    "partition",
    "profile_layers",
    "shards",
    "stratified_split",
]
