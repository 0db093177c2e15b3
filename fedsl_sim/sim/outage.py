"""Outage policies: what a transmitter does in a coherence block whose SINR is below the
threshold. The medium (:mod:`fedsl_sim.sim.medium`) delegates to one of these.

* ``wait`` — it knows the channel and pauses (no energy) until the SINR recovers;
* ``harq`` — it does not know the channel (it is *blind*): it keeps transmitting, each block in
  outage is a failed attempt whose time and energy are spent and whose bits are sent again;
  after more than ``max_retransmissions`` failed blocks the message is lost. With Chase
  combining a failed block's SINR is kept and added to the next block's, so retransmissions
  can succeed below the threshold;
* ``drop`` — the first block in outage loses the message (``harq`` with no retransmission).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fedsl_registry import Registry


class OutagePolicy:
    """An outage policy (see module docstring).

    Parameters
    ----------
    name : the policy's name (``wait``, ``harq``, ``drop``).
    blind : the transmitter does not know the channel: it transmits in every block.
    budget : failed blocks a message survives (blind policies).
    chase : failed blocks' SINRs are combined (Chase combining).
    """

    def __init__(self, name: str, blind: bool, budget: int = 0, chase: bool = False) -> None:
        if budget < 0:
            raise ValueError(f"budget: expected >= 0 failed blocks, got {budget}")
        if chase and not blind:
            raise ValueError("Chase combining needs a blind (harq) transmitter")
        self.name = name
        self.blind = blind
        self.budget = int(budget)
        self.chase = chase

    def failed_blocks(
        self, sinr: np.ndarray, threshold: float | None, chase_start: Sequence[float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Failed blocks (S, m) of SINRs ``sinr`` (S, m) under ``threshold`` (None: none
        fails) and the combined SINR carried out of each block (Chase combining: transmission
        i starts with ``chase_start[i]`` from its earlier failed blocks)."""
        carry = np.zeros_like(sinr)
        if threshold is None:
            return np.zeros(sinr.shape, dtype=bool), carry
        failed = sinr < threshold
        if not self.chase:
            return failed, carry
        # combining is sequential, but only failed blocks (and what follows them) change
        for i, start in enumerate(chase_start):
            acc, run_continues_at = start, 0  # the carry joins a failure at block 0
            for k in np.flatnonzero(failed[:, i]).tolist():
                if k != run_continues_at:
                    acc = 0.0  # a successful block in between ended the combination
                if sinr[k, i] + acc >= threshold:
                    failed[k, i] = False
                    acc = 0.0
                else:
                    acc += sinr[k, i]
                    carry[k, i] = acc
                run_continues_at = k + 1
        return failed, carry


OUTAGE_POLICIES: Registry[OutagePolicy] = Registry("outage policy")


@OUTAGE_POLICIES.register("wait")
def wait(max_retransmissions: int = 0, chase_combining: bool = False) -> OutagePolicy:
    """Pause in outage (the transmitter knows its channel)."""
    return OutagePolicy("wait", blind=False)


@OUTAGE_POLICIES.register("harq")
def harq(max_retransmissions: int = 0, chase_combining: bool = False) -> OutagePolicy:
    """Blind retransmission of failed blocks, lost after ``max_retransmissions`` of them."""
    return OutagePolicy("harq", blind=True, budget=max_retransmissions, chase=chase_combining)


@OUTAGE_POLICIES.register("drop")
def drop(max_retransmissions: int = 0, chase_combining: bool = False) -> OutagePolicy:
    """The first failed block loses the message."""
    return OutagePolicy("drop", blind=True, budget=0)
