"""Per-device state that costs only for the devices that use it.

A federation registers many more devices than take part in a round, so a scheme keeps no
per-device object until a device needs it:

* :class:`PerDevice`: a list of ``n`` values made on first access (a device's random
  generators, its pruner) — the keyed random streams make "on first access" and "at the
  start" the same values;
* :class:`DeviceCopies`: each device's copy of a model part. A device whose copy equals a
  state shared with others (the initial model, or the last average it received, with its
  pruning mask applied) stores only a reference to that state, the mask and its optimizer's
  state; a module and an optimizer exist only while a device trains, or while its copy
  holds weights of its own (it trained since the last state it received).

Materialising a copy loads the shared state and zeroes the masked weights exactly as
loading into a live module and :meth:`~fedsl_sim.compression.Pruner.apply` would, so a
run's numbers do not depend on which devices happen to be materialised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from torch import Tensor, nn

from fedsl_sim.compression.pruning import prunable_parameters
from fedsl_sim.learning.optim import Optimizer

T = TypeVar("T")


class _Constant(Generic[T]):
    """``k -> value`` for every device (picklable, unlike a lambda)."""

    def __init__(self, value: T) -> None:
        self.value = value

    def __call__(self, key: Any) -> T:
        return self.value


def constant(value: T) -> Callable[[int], T]:
    """A per-device factory giving every device ``value`` (the same object)."""
    return _Constant(value)


class PerDevice(Sequence[T], Generic[T]):
    """``n`` values, device ``k``'s made by ``make(k)`` when first read (then kept)."""

    def __init__(self, n: int, make: Callable[[int], T]) -> None:
        self._n = int(n)
        self._make = make
        self._made: dict[int, T] = {}

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, k: int) -> T: ...

    @overload
    def __getitem__(self, k: slice) -> list[T]: ...

    def __getitem__(self, k: int | slice) -> T | list[T]:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(self._n))]
        k = self._index(k)
        if k not in self._made:
            self._made[k] = self._make(k)
        return self._made[k]

    def __setitem__(self, k: int, value: T) -> None:
        self._made[self._index(k)] = value

    def _index(self, k: int) -> int:
        if not -self._n <= k < self._n:
            raise IndexError(f"device {k} out of range (0..{self._n - 1})")
        return k % self._n

    @property
    def made(self) -> int:
        """How many devices' values exist."""
        return len(self._made)


@dataclass
class _Held:
    """A device copy that is not materialised: a shared state (whole-model keys, possibly
    more layers than the device holds), the pruning masks to apply to it (None: none) and
    its optimizer's state (None: empty)."""

    state: Mapping[str, Tensor]
    masks: list[Tensor] | None
    opt_state: dict[str, Any] | None


class _HeldView(Mapping[str, Tensor]):
    """Read-only state dict of a held copy: the shared state's entries of the device's keys,
    masked weights zeroed when read (one tensor at a time: nothing is materialised)."""

    def __init__(self, held: _Held, keys: Sequence[str], masked: Mapping[str, int]) -> None:
        self._held, self._keys, self._masked = held, keys, masked

    def __getitem__(self, key: str) -> Tensor:
        value = self._held.state[key]
        masks = self._held.masks
        i = self._masked.get(key)
        if masks is None or i is None:
            return value
        return value.masked_fill(~masks[i], 0.0)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


class DeviceCopies:
    """Every device's copy of a model part (see the module docstring).

    Parameters
    ----------
    n : number of devices.
    structure : ``structure(k)`` builds a module of device k's shape (its values are
        overwritten when the copy is materialised).
    optimizer : ``optimizer(module)`` makes the optimizer that steps device k's copy, or
        None when it has none.
    initial : the state (whole-model keys) every device holds at the start; not copied, so
        it must not change afterwards.
    group : ``group(k)``: devices of one group have copies of one shape (e.g. their split
        layer); the shape's keys are computed once per group.
    """

    def __init__(
        self,
        n: int,
        structure: Callable[[int], nn.Module],
        optimizer: Callable[[nn.Module], Optimizer | None],
        initial: Mapping[str, Tensor],
        group: Callable[[int], int],
    ) -> None:
        self.n = int(n)
        self._structure = structure
        self._optimizer = optimizer
        self._group = group
        self._initial = _Held(initial, None, None)
        self._live: dict[int, tuple[nn.Module, Optimizer | None]] = {}
        self._held: dict[int, _Held] = {}
        self._shapes: dict[int, tuple[list[str], dict[str, int], int]] = {}
        #: per group, modules of dropped copies, reused for the next ones materialised (no
        #: more than were live at once: building a module is a deepcopy)
        self._spare: dict[int, list[nn.Module]] = {}

    def __len__(self) -> int:
        return self.n

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_spare"] = {}  # a cache: checkpoints do not carry it
        return state

    def __getitem__(self, k: int) -> nn.Module:
        """Device k's copy as a module (materialised if it is not)."""
        return self.module(k)

    @property
    def optimizers(self) -> PerDevice[Optimizer | None]:
        """Per device, the optimizer of its copy (materialised when read)."""
        return PerDevice(self.n, self.optimizer)

    def _check(self, k: int) -> int:
        if not 0 <= k < self.n:
            raise IndexError(f"device {k} out of range (0..{self.n - 1})")
        return k

    def _shape(self, k: int) -> tuple[list[str], dict[str, int], int]:
        """Device k's state keys, its prunable weights' positions and parameter count."""
        g = self._group(k)
        shape = self._shapes.get(g)
        if shape is None:
            module = self._live[k][0] if k in self._live else self._structure(k)
            names = [name for name, _ in prunable_parameters(module)]
            count = sum(p.numel() for p in module.parameters())
            shape = (list(module.state_dict()), {name: i for i, name in enumerate(names)}, count)
            self._shapes[g] = shape
        return shape

    def module(self, k: int) -> nn.Module:
        """Device k's copy as a module (materialised if it is not)."""
        return self._materialise(k)[0]

    def optimizer(self, k: int) -> Optimizer | None:
        """The optimizer of device k's copy (materialised if it is not)."""
        return self._materialise(k)[1]

    def _materialise(self, k: int) -> tuple[nn.Module, Optimizer | None]:
        live = self._live.get(self._check(k))
        if live is not None:
            return live
        held = self._held.pop(k, self._initial)
        spare = self._spare.get(self._group(k))
        module = spare.pop() if spare else self._structure(k)
        for p in module.parameters():
            p.grad = None
        keys = module.state_dict()
        module.load_state_dict({key: held.state[key] for key in keys})
        if held.masks is not None:
            import torch

            params = [p for _, p in prunable_parameters(module)]
            with torch.no_grad():
                for p, m in zip(params, held.masks, strict=True):
                    p.masked_fill_(~m, 0.0)
        opt = self._optimizer(module)
        if opt is not None and held.opt_state is not None:
            opt.load_state_dict(held.opt_state)
        self._live[k] = (module, opt)
        return module, opt

    def hold(self, k: int, state: Mapping[str, Tensor], masks: list[Tensor] | None) -> None:
        """Device k's copy becomes ``state`` (shared, not copied; it must not change
        afterwards) with the weights that ``masks`` prune zeroed; its module is dropped and its
        optimizer's state kept."""
        live = self._live.pop(self._check(k), None)
        if live is not None:
            opt_state = _opt_state(live[1])
            self._spare.setdefault(self._group(k), []).append(live[0])
        else:
            opt_state = self._held.get(k, self._initial).opt_state
        if masks is None and opt_state is None and state is self._initial.state:
            self._held.pop(k, None)
        else:
            self._held[k] = _Held(state, masks, opt_state)

    def hold_all(self, state: Mapping[str, Tensor]) -> None:
        """Every device's copy becomes ``state`` (see :meth:`hold`), no mask."""
        for k in list(self._live):
            self.hold(k, state, None)
        for k, held in list(self._held.items()):
            if held.opt_state is None:
                del self._held[k]
            else:
                self._held[k] = _Held(state, None, held.opt_state)
        self._initial = _Held(state, None, None)

    def materialised(self, k: int) -> bool:
        """Whether device k's copy is a module (it trains, or holds weights of its own)."""
        return self._check(k) in self._live

    def materialised_devices(self) -> list[int]:
        """The devices whose copies are modules."""
        return list(self._live)

    def regroup(self, k: int) -> None:
        """Device k's copy changes shape (its group changed, e.g. its split layer): it keeps
        the shared state it holds, without a mask or an optimizer state (their shapes were
        the old group's). Only for a copy that is not materialised."""
        if self._check(k) in self._live:
            raise RuntimeError(f"device {k}'s copy holds weights of its own: it cannot change")
        held = self._held.pop(k, None)
        if held is not None and held.state is not self._initial.state:
            self._held[k] = _Held(held.state, None, None)

    def state(self, k: int) -> Mapping[str, Tensor]:
        """Device k's state dict (whole-model keys), without materialising it. Read only: a
        held copy's unmasked entries are the shared state's own tensors (writing into them
        would change every device that holds it)."""
        live = self._live.get(self._check(k))
        if live is not None:
            return live[0].state_dict()
        keys, masked, _ = self._shape(k)
        return _HeldView(self._held.get(k, self._initial), keys, masked)

    def parameter_count(self, k: int) -> int:
        """Number of parameters of device k's copy."""
        return self._shape(self._check(k))[2]

    @property
    def live(self) -> int:
        """How many copies are materialised."""
        return len(self._live)

    @property
    def held(self) -> int:
        """How many copies are held without a module (a reference to a shared state other
        than the initial one, a mask or an optimizer state)."""
        return len(self._held)

    def private_bytes(self) -> int:
        """Bytes of the tensors the copies keep for one device only: live modules, the masks
        of held copies and optimizer states (the shared states are not counted, nor the
        masks a pruner keeps for a copy held without them)."""
        total = 0
        for module, opt in self._live.values():
            total += _tensor_bytes(module.state_dict())
            if opt is not None:
                total += _tensor_bytes(opt.state_dict()["state"])
        for held in self._held.values():
            total += _tensor_bytes(held.masks)
            if held.opt_state is not None:
                total += _tensor_bytes(held.opt_state["state"])
        return total


def _tensor_bytes(obj: object) -> int:
    """Bytes of the tensors in ``obj`` (nested dicts, lists and tuples)."""
    if isinstance(obj, Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, Mapping):
        return sum(_tensor_bytes(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(_tensor_bytes(v) for v in obj)
    return 0


def _opt_state(opt: Optimizer | None) -> dict[str, Any] | None:
    """The optimizer's state dict, or None when it holds no state (plain SGD)."""
    if opt is None:
        return None
    sd = opt.state_dict()
    return sd if sd["state"] else None


class SharedCopy(DeviceCopies):
    """One copy that every device uses in turn (vanilla split learning): device k's copy is
    the shared module, whoever holds it."""

    def __init__(self, n: int, module: nn.Module, optimizer: Optimizer | None) -> None:
        super().__init__(n, constant(module), _Constant(optimizer), module.state_dict(), _zero)
        self._shared = (module, optimizer)

    def _materialise(self, k: int) -> tuple[nn.Module, Optimizer | None]:
        self._check(k)
        return self._shared

    def state(self, k: int) -> Mapping[str, Tensor]:
        return self._materialise(k)[0].state_dict()

    def hold(self, k: int, state: Mapping[str, Tensor], masks: list[Tensor] | None) -> None:
        raise RuntimeError("the shared copy of vanilla split learning is never replaced")

    def hold_all(self, state: Mapping[str, Tensor]) -> None:
        raise RuntimeError("the shared copy of vanilla split learning is never replaced")

    @property
    def live(self) -> int:
        return 1


def _zero(k: int) -> int:
    return 0
