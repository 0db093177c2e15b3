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
from fedsl_sim.learning.data import Dataset
from fedsl_sim.sim.streams import Streams


class FederatedData:
    """Dataset + per-device index shards + per-device batch streams.

    Parameters
    ----------
    dataset : the federation's dataset.
    shards : per device, the indices of its training samples (none empty).
    batch_size : mini-batch size (samples).
    streams : the run's random streams (device k's batch order is ``batch_order`` k).
    """

    def __init__(
        self,
        dataset: Dataset,
        shards: list[np.ndarray],
        batch_size: int,
        streams: Streams,
    ) -> None:
        empty = [k for k, idx in enumerate(shards) if len(idx) == 0]
        if empty:
            raise ValueError(f"devices {empty} have no training samples")
        self.dataset = dataset
        self.shards = shards
        self.sizes = np.array([len(idx) for idx in self.shards], dtype=np.int64)
        self._batch_size = batch_size
        self._rngs = streams
        #: device k's batch stream, made when it first trains (keyed streams: the same
        #: batches as one made at the start)
        self._streams: dict[int, BatchStream] = {}

    @property
    def num_classes(self) -> int:
        return self.dataset.num_classes

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return tuple(self.dataset.in_shape)  # type: ignore[return-value]

    def batch_size_of(self, device: int) -> int:
        """Samples in each of the device's mini-batches (the batch size, at most its shard)."""
        return min(self._batch_size, len(self.shards[device]))

    def next_batch(self, device: int) -> tuple[Tensor, Tensor]:
        """The device's next mini-batch ``(x, y)``: x (B, C, H, W) float32, y (B,) int64."""
        stream = self._streams.get(device)
        if stream is None:
            rng = self._rngs.numpy("batch_order", device)
            stream = self._streams[device] = BatchStream(self.shards[device], self._batch_size, rng)
        idx = torch.from_numpy(stream.next())
        return self.dataset.train_x[idx], self.dataset.train_y[idx]
