"""Message codecs: one interface, stages composed into a pipeline per message kind.

A :class:`Codec` turns a tensor into a :class:`Packet` — what goes on air, with its exact size
in bits — and back (:meth:`Codec.decode`: what the receiver reconstructs). Stages wrap an
inner codec, so a pipeline is a nesting, outermost stage first, e.g. the model upload of
lightweight FedSL::

    Pruned(Delta(KeepEntries(Quantize(q))))

(pruned entries are not sent but their positions are; the kept entries go as the quantized
difference to the last average). Per message kind the scenario's pipeline is built by
:func:`fedsl_sim.build.message_codecs`; the split-layer activations and gradients travel as
``KeepEntries(Quantize(q))`` with the dropout mask (free: regenerated from a shared seed).

A :class:`CodecContext` carries what a message's stages need: the sender's random stream (for
stochastic codecs), the mask of the entries that travel, the reference the receiver already
holds (delta coding). A new codec is one class (here or in its own module) plus its
registration in :data:`CODECS` (:mod:`fedsl_sim.compression.registry`) with a parameter
model; a scenario then names it in ``compression.pipelines``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where tensors are coded: checking a scenario's
    # codecs (building them) does not need it
    import torch
    from torch import Tensor

from fedsl_sim.compression.pruning import position_bits
from fedsl_sim.compression.quantization import StochasticQuantizer

__all__ = [
    "CODECS",
    "Codec",
    "CodecContext",
    "Delta",
    "Float32",
    "KeepEntries",
    "Packet",
    "Pruned",
    "Quantize",
    "Stage",
]


@dataclass(frozen=True)
class CodecContext:
    """What the stages of one message need besides the tensor."""

    #: the sender's random stream for stochastic stages (None: no stochastic stage)
    generator: torch.Generator | None = None
    #: the entries that travel (dropout mask, pruning mask); None: every entry
    mask: Tensor | None = None
    #: what the receiver already holds, for delta coding
    reference: Tensor | None = None


@dataclass(frozen=True, eq=False)
class Packet:
    """One message on air: ``payload`` (the stage's representation), its exact size in
    ``bits``, and ``info`` (what the stage's decoder knows besides the payload: shapes, a
    shared mask, a reference)."""

    payload: Any
    bits: int
    info: Any = None


class Codec(ABC):
    """One stage of a message pipeline."""

    @property
    def lossless(self) -> bool:
        """Whether the receiver gets the tensor bit for bit (then :meth:`bits_for` holds)."""
        return False

    def bits_for(self, n_entries: int) -> int:
        """Bits of ``n_entries`` entries (lossless codecs only)."""
        raise NotImplementedError(f"{type(self).__name__} is not lossless")

    def expected_bits(self, n_entries: int, total: int | None = None) -> int:
        """Bits on air of a message of ``n_entries`` entries sent of a tensor of ``total``
        (None: all of them; fewer: the rest pruned), for predictions — the exact bits of every
        shipped codec, whose bits depend only on these counts."""
        return self.bits_for(n_entries)

    @abstractmethod
    def encode(self, x: Tensor, ctx: CodecContext) -> Packet:
        """The packet of ``x``: what goes on air and its exact bits."""

    @abstractmethod
    def decode(self, packet: Packet) -> Tensor:
        """What the receiver reconstructs from ``packet``."""


class Float32(Codec):
    """Dense float32: 32 bits per entry, lossless."""

    @property
    def lossless(self) -> bool:
        return True

    def bits_for(self, n_entries: int) -> int:
        return 32 * n_entries

    def encode(self, x: Tensor, ctx: CodecContext) -> Packet:
        return Packet(x, self.bits_for(x.numel()))

    def decode(self, packet: Packet) -> Tensor:
        return packet.payload


class Quantize(Codec):
    """Unbiased stochastic uniform quantization (:class:`StochasticQuantizer`; 32 bits: off,
    lossless and no randomness consumed)."""

    def __init__(self, quantizer: StochasticQuantizer) -> None:
        self.quantizer = quantizer

    @property
    def lossless(self) -> bool:
        return self.quantizer.bits == 32

    def bits_for(self, n_entries: int) -> int:
        if not self.lossless:
            return super().bits_for(n_entries)
        return self.quantizer.payload_bits(n_entries)

    def expected_bits(self, n_entries: int, total: int | None = None) -> int:
        return self.quantizer.payload_bits(n_entries)

    def encode(self, x: Tensor, ctx: CodecContext) -> Packet:
        if self.lossless:
            return Packet(x, self.bits_for(x.numel()))
        if ctx.generator is None:
            raise ValueError("stochastic quantization needs the sender's generator")
        q = self.quantizer.encode(x, ctx.generator)
        return Packet(q, q.payload_bits)

    def decode(self, packet: Packet) -> Tensor:
        if self.lossless:
            return packet.payload
        return self.quantizer.decode(packet.payload)


def quantize(bits: int, scale: str = "range") -> Quantize:
    """The ``quantize`` codec with a :class:`StochasticQuantizer` of ``bits`` bits (32: off)
    and ``scale`` (``range`` or ``norm``)."""
    return Quantize(StochasticQuantizer(bits, scale))  # type: ignore[arg-type]


class Stage(Codec):
    """A stage wrapping an ``inner`` codec (lossless when its inner codec is)."""

    def __init__(self, inner: Codec) -> None:
        self.inner = inner

    @property
    def lossless(self) -> bool:
        return self.inner.lossless

    def bits_for(self, n_entries: int) -> int:
        return self.inner.bits_for(n_entries)

    def expected_bits(self, n_entries: int, total: int | None = None) -> int:
        return self.inner.expected_bits(n_entries, total)


class KeepEntries(Stage):
    """Only the entries of ``ctx.mask`` travel (the mask is known to the receiver, e.g.
    regenerated from a shared seed: free); the receiver puts zeros elsewhere. With a lossless
    inner codec the packet carries the tensor itself, costed for the kept entries (the dropped
    entries are zeros, or the receiver discards them)."""

    def encode(self, x: Tensor, ctx: CodecContext) -> Packet:
        mask = ctx.mask
        if mask is None:
            return _around(self.inner.encode(x, ctx))
        if mask.shape != x.shape:
            raise ValueError(f"mask shape {tuple(mask.shape)} differs from {tuple(x.shape)}")
        if self.inner.lossless:
            return Packet(x, self.inner.bits_for(int(mask.sum())), ("whole", None))
        inner = self.inner.encode(x[mask], ctx)
        return Packet(inner, inner.bits, ("kept", (mask, x.dtype)))

    def decode(self, packet: Packet) -> Tensor:
        import torch

        kind, extra = packet.info
        if kind == "whole":
            return packet.payload
        if kind == "around":
            return self.inner.decode(packet.payload)
        mask, dtype = extra
        out = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
        out[mask] = self.inner.decode(packet.payload)
        return out


class Delta(Stage):
    """The difference to ``ctx.reference`` (what the receiver already holds) travels; the
    receiver adds it back. With a lossless inner codec the tensor travels as it is."""

    def encode(self, x: Tensor, ctx: CodecContext) -> Packet:
        if self.inner.lossless:
            return _around(self.inner.encode(x, ctx))
        if ctx.reference is None:
            raise ValueError("delta coding needs the receiver's reference")
        return _around(self.inner.encode(x - ctx.reference, ctx), ctx.reference)

    def decode(self, packet: Packet) -> Tensor:
        _, reference = packet.info
        inner = self.inner.decode(packet.payload)
        return inner if reference is None else reference + inner


class Pruned(Stage):
    """Pruned entries (``ctx.mask`` False) are not sent but their positions are: the cheaper
    of a bitmask and a list of indices (:func:`~fedsl_sim.compression.pruning.position_bits`,
    0 when nothing is pruned); the receiver sets them to zero."""

    def encode(self, x: Tensor, ctx: CodecContext) -> Packet:
        inner = self.inner.encode(x, ctx)
        mask = ctx.mask
        if mask is None:
            return _around(inner)
        extra = position_bits(x.numel(), int(mask.sum()))
        # lossless: x already holds zeros at the pruned entries (the pruner applied its mask)
        return Packet(inner, inner.bits + extra, ("around", None if self.lossless else mask))

    def decode(self, packet: Packet) -> Tensor:
        _, mask = packet.info
        inner = self.inner.decode(packet.payload)
        return inner if mask is None else inner * mask

    def expected_bits(self, n_entries: int, total: int | None = None) -> int:
        extra = 0 if total is None else position_bits(total, n_entries)
        return self.inner.expected_bits(n_entries, total) + extra


def _around(inner: Packet, extra: Any = None) -> Packet:
    """A stage's packet around its inner stage's packet, of the same size."""
    return Packet(inner, inner.bits, ("around", extra))


@dataclass(frozen=True)
class MessageCodecs:
    """The pipeline of each message kind a scheme encodes (default: dense float32, the
    split-layer messages restricted to the dropout mask's entries)."""

    #: split-layer activations (device -> server), with the dropout mask as ``ctx.mask``
    activations: Codec = KeepEntries(Float32())
    #: split-layer gradient (server -> device), same mask
    gradient: Codec = KeepEntries(Float32())
    #: a device's model (device -> server), per tensor, with its pruning mask and the last
    #: average as reference
    model_upload: Codec = Pruned(Delta(KeepEntries(Float32())))


from fedsl_sim.compression.registry import CODECS  # noqa: E402  (re-exported)
