"""The data of a federation: the dataset, each device's shard and its mini-batch order.

A device's mini-batch order depends only on the root seed and the device index (its own
stream), never on the scheme, the channel or the split layer, so schemes are compared on the
same data.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from fedsl_sim.learning.batches import BatchStream
from fedsl_sim.learning.data import Dataset, load_dataset
from fedsl_sim.learning.partition import PARTITIONS
from fedsl_sim.scenario import Scenario, ScenarioError
from fedsl_sim.sim.streams import Streams


def build_dataset(scenario: Scenario, streams: Streams) -> Dataset:
    """The scenario's dataset: depends only on ``learning.dataset`` and the root seed (a
    checkpoint rebuilds it with this rather than storing it)."""
    cfg = scenario.learning.dataset
    return load_dataset(cfg.name, rng=streams.numpy("dataset"), **cfg.model_dump(exclude={"name"}))


class FederatedData:
    """Dataset + per-device index shards + per-device batch streams."""

    def __init__(self, scenario: Scenario, streams: Streams, source: str = "scenario") -> None:
        cfg = scenario.learning
        n = scenario.devices.count
        self.dataset = build_dataset(scenario, streams)
        labels = self.dataset.train_y.numpy()
        part_params = cfg.partition.model_dump(exclude={"kind"})
        try:
            self.shards = PARTITIONS.make(
                cfg.partition.kind,
                labels=labels,
                n_devices=n,
                rng=streams.numpy("partition"),
                **part_params,
            )
        except ValueError as exc:
            raise ScenarioError(source, str(exc), path="learning.partition") from None
        empty = [k for k, idx in enumerate(self.shards) if len(idx) == 0]
        if empty:
            raise ScenarioError(
                source,
                f"devices {empty} get no training samples ({len(labels)} samples for {n} "
                "devices); use fewer devices or a different partition",
                path="learning.partition",
            )
        self.sizes = np.array([len(idx) for idx in self.shards], dtype=np.int64)
        self._streams = [
            BatchStream(idx, cfg.batch_size, streams.numpy("batch_order", k))
            for k, idx in enumerate(self.shards)
        ]

    @property
    def num_classes(self) -> int:
        return self.dataset.num_classes

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return tuple(self.dataset.in_shape)  # type: ignore[return-value]

    def next_batch(self, device: int) -> tuple[Tensor, Tensor]:
        """The device's next mini-batch ``(x, y)``: x (B, C, H, W) float32, y (B,) int64."""
        idx = torch.from_numpy(self._streams[device].next())
        return self.dataset.train_x[idx], self.dataset.train_y[idx]
