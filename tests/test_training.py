"""The shared fitting loop and CoOp's schedule."""

import pytest
import torch

from llu_core.method.training import coop_epochs, coop_optimizer, coop_schedule, minimise


def test_coop_epochs_per_shot_count():
    assert [coop_epochs(s) for s in (1, 2, 4, 8, 16)] == [50, 100, 100, 200, 200]
    with pytest.raises(ValueError):
        coop_epochs(0)


def test_coop_schedule_warms_up_then_decays_by_cosine():
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = coop_optimizer([parameter], lr=0.002)
    schedule = coop_schedule(optimizer, epochs=5, steps_per_epoch=2)
    rates = []
    for _ in range(10):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] == rates[1] == pytest.approx(1e-5)
    assert rates[2] == pytest.approx(0.002)
    assert rates[2] > rates[4] > rates[6] > rates[8] > 0


def test_minimise_lowers_a_quadratic_loss_and_is_seeded():
    target = torch.linspace(-1, 1, 20)

    def run(seed):
        weight = torch.nn.Parameter(torch.zeros(1))
        history = minimise(lambda i: ((weight - target[i]) ** 2 + (weight - 3.0) ** 2).mean(),
                           coop_optimizer([weight], lr=0.05), 20, epochs=10, batch_size=4, seed=seed)
        return history, weight.item()

    history, weight = run(0)
    assert len(history) == 10 and history[-1] < history[0]
    assert run(0) == (history, weight)
