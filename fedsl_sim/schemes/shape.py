"""A scheme's shape, as data: whether the model is split, how the server holds its copies,
when the devices' models are averaged, whether devices train in turn, whether the scheme
compresses; and the scenario rules that follow from it. Torch-free, so that validating a
scenario checks a shipped scheme's rules without importing the training code (the shipped
shapes are :data:`SHIPPED_SHAPES`, declared with the registry's lazy entries)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

AVERAGING = ("interval", "every_round", "never")


@dataclass(frozen=True)
class SchemeShape:
    """A scheme's shape, as data (the driver reads it)."""

    #: the model is split between the devices and the server (False: the whole model on the
    #: devices, as in FL)
    split: bool = True
    #: one server-side model copy per device (SplitFed V1) instead of one shared copy
    server_copy_per_device: bool = False
    #: when the devices' models are averaged: every ``aggregation_interval`` rounds
    #: (``interval``), every round (``every_round``) or never
    averaging: str = "interval"
    #: devices train in turn (one after the other) instead of in parallel
    sequential: bool = False
    #: the scheme accepts compression (pruning, quantization, dropout); False for a scheme
    #: that is by definition uncompressed
    compresses: bool = True

    def rule_violations(
        self,
        name: str,
        split_layers: Sequence[int],
        deadline_s: float | None,
        compression_on: bool,
        dropout_rate: float = 0.0,
        split_messages_coded: Sequence[str] = (),
    ) -> list[tuple[str, str]]:
        """The scheme's rules a scenario breaks, as ``(dotted field, message)``: per-device
        split layers need a split, parallel scheme; a round deadline needs parallel devices;
        compression needs a scheme that compresses; activation dropout and codecs of the
        split-layer messages (``split_messages_coded``: the dotted fields that code them)
        need a split."""
        out = []
        if not self.split and dropout_rate > 0:
            out.append(
                (
                    "compression.dropout.rate",
                    f"expected 0 for scheme {name!r} (no split layer), got {dropout_rate}",
                )
            )
        if not self.split and split_messages_coded:
            out.append(
                (
                    split_messages_coded[0],
                    f"expected no split-layer message coding for scheme {name!r} (no split "
                    "layer; only the model upload), got "
                    f"{', '.join(split_messages_coded)}",
                )
            )
        if len(set(split_layers)) > 1 and (not self.split or self.sequential):
            why = (
                f"{name} trains the whole model on every device"
                if not self.split
                else f"{name} hands one client-side model from device to device"
            )
            out.append(
                (
                    "learning.split_layer",
                    f"expected one split layer for scheme {name!r} ({why}; per-device split "
                    "layers need a split scheme with parallel devices: fedsl, "
                    f"lightweight_fedsl, sfl_v1 or sfl_v2), got {list(split_layers)}",
                )
            )
        if self.sequential and deadline_s is not None:
            out.append(
                (
                    "rounds.deadline_s",
                    f"expected none for scheme {name!r} (devices train in turn; a round "
                    f"deadline is not defined), got {deadline_s}",
                )
            )
        if not self.compresses and compression_on:
            out.append(
                (
                    "compression",
                    f"expected compression off for scheme {name!r} (pruning.rate 0, "
                    "quantization.bits 32, dropout.rate 0); use scheme 'lightweight_fedsl' to "
                    "compress",
                )
            )
        return out

    def __post_init__(self) -> None:
        if self.averaging not in AVERAGING:
            raise ValueError(f"averaging: expected one of {AVERAGING}, got {self.averaging!r}")

    def aggregates_after(self, r: int, aggregation_interval: int) -> bool:
        """Whether round ``r`` (0-based) ends with an aggregation."""
        if self.averaging == "never":
            return False
        interval = 1 if self.averaging == "every_round" else aggregation_interval
        return (r + 1) % interval == 0


#: the shapes of the shipped schemes (their classes' ``shape``; the registry declares them)
SHIPPED_SHAPES: dict[str, SchemeShape] = {
    "fl": SchemeShape(split=False, averaging="interval"),
    "sl": SchemeShape(split=True, averaging="never", sequential=True),
    "sfl_v1": SchemeShape(split=True, server_copy_per_device=True, averaging="interval"),
    "sfl_v2": SchemeShape(split=True, server_copy_per_device=False, averaging="every_round"),
    "fedsl": SchemeShape(split=True, averaging="interval", compresses=False),
    "lightweight_fedsl": SchemeShape(
        split=True, server_copy_per_device=False, averaging="interval"
    ),
}
