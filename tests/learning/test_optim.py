"""fedsl_sim's SGD is torch.optim.SGD's arithmetic, bit for bit (on the CPU), without
importing torch's compiler."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import torch
from torch import nn

from fedsl_sim.learning.optim import SGD


def _model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))


@pytest.mark.parametrize(
    ("momentum", "weight_decay"), [(0.0, 0.0), (0.9, 0.0), (0.9, 5e-4), (0.0, 1e-3), (1.0, 0.0)]
)
def test_sgd_is_torch_sgd_bit_for_bit(momentum: float, weight_decay: float) -> None:
    ours, theirs = _model(0), _model(0)
    opt_a = SGD(ours.parameters(), lr=0.05, momentum=momentum, weight_decay=weight_decay)
    opt_b = torch.optim.SGD(
        theirs.parameters(), lr=0.05, momentum=momentum, weight_decay=weight_decay
    )
    gen = torch.Generator().manual_seed(1)
    for step in range(12):
        x = torch.randn(5, 1, 8, 8, generator=gen)
        y = torch.randint(0, 3, (5,), generator=gen)
        for model, opt in ((ours, opt_a), (theirs, opt_b)):
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(x), y).backward()
            if step % 4 == 3:  # a parameter without a gradient is skipped (its buffer kept)
                model[3].bias.grad = None
            opt.step()
        for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
            assert torch.equal(a, b), step
    # saving and restoring the state (a device that goes down) continues identically
    saved_a = copy.deepcopy(opt_a.state_dict())
    saved_b = copy.deepcopy(opt_b.state_dict())
    opt_a.load_state_dict(saved_a)
    opt_b.load_state_dict(saved_b)
    x = torch.randn(5, 1, 8, 8, generator=gen)
    y = torch.randint(0, 3, (5,), generator=gen)
    for model, opt in ((ours, opt_a), (theirs, opt_b)):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(a, b)


def test_sgd_refuses_bad_settings_and_foreign_state() -> None:
    params = list(_model(0).parameters())
    with pytest.raises(ValueError, match="lr > 0"):
        SGD(params, lr=0.0)
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    other = SGD(params[:1], lr=0.1, momentum=0.9).state_dict()
    with pytest.raises(ValueError, match="the state of 4 parameters, got 1"):
        SGD(params, lr=0.1, momentum=0.9).load_state_dict(other)


def test_the_state_has_torchs_layout() -> None:
    ours, theirs = _model(0), _model(0)
    opt_a = SGD(ours.parameters(), lr=0.05, momentum=0.9)
    opt_b = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9)
    for model, opt in ((ours, opt_a), (theirs, opt_b)):
        model(torch.ones(1, 1, 8, 8)).sum().backward()
        opt.step()
    a, b = opt_a.state_dict(), opt_b.state_dict()
    assert a["state"].keys() == b["state"].keys()
    for i in a["state"]:
        assert torch.equal(a["state"][i]["momentum_buffer"], b["state"][i]["momentum_buffer"])
    assert a["param_groups"][0]["params"] == b["param_groups"][0]["params"]


def test_sgd_does_not_import_the_compiler() -> None:
    code = (
        "import sys, torch\n"
        "from fedsl_sim.learning.optim import SGD\n"
        "m = torch.nn.Linear(2, 2)\n"
        "opt = SGD(m.parameters(), lr=0.1, momentum=0.9)\n"
        "m(torch.ones(1, 2)).sum().backward(); opt.step(); opt.zero_grad()\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
