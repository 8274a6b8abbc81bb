import pytest
import torch

from genai_course.core.train import History, fit, minibatches, run


def test_minibatches_cover_every_row_once_per_epoch_and_are_seeded():
    x = torch.arange(10)
    batches = minibatches(x, batch_size=5, seed=0)
    epoch = torch.cat([next(batches)[0], next(batches)[0]])
    assert sorted(epoch.tolist()) == list(range(10))
    again = minibatches(x, batch_size=5, seed=0)
    assert torch.equal(next(again)[0], epoch[:5])
    other = minibatches(x, batch_size=5, seed=1)
    assert not torch.equal(next(other)[0], epoch[:5])


def test_minibatches_keep_rows_aligned_and_validate():
    x, y = torch.arange(6), torch.arange(6) * 10
    bx, by = next(minibatches(x, y, batch_size=4, seed=0))
    assert torch.equal(by, bx * 10)
    assert next(minibatches(x, batch_size=100))[0].shape == (6,)
    with pytest.raises(ValueError, match="same first dimension"):
        next(minibatches(x, torch.arange(5), batch_size=2))


def test_run_fits_least_squares_to_the_closed_form():
    torch.manual_seed(0)
    X = torch.randn(256, 3)
    w_true = torch.tensor([1.0, -2.0, 0.5])
    y = X @ w_true + 0.01 * torch.randn(256)
    w = torch.zeros(3, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1)

    def step(xb, yb):
        loss = ((xb @ w - yb) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    history = run(step, minibatches(X, y, batch_size=64), steps=300, progress=False)
    w_ls = torch.linalg.lstsq(X, y.unsqueeze(1)).solution.squeeze(1)
    assert torch.allclose(w.detach(), w_ls, atol=1e-3)
    assert history.steps == 300 and history["loss"][-1] < history["loss"][0]
    assert history.seconds > 0


def test_run_stops_early_when_the_loss_plateaus():
    history = run(lambda x: {"loss": 1.0}, minibatches(torch.zeros(4), batch_size=2),
                  steps=1000, progress=False, patience=10)
    assert history.stopped_early and history.steps == 11


def test_history_smoothed():
    h = History({"loss": [4.0, 2.0, 1.0, 3.0]})
    assert h.smoothed("loss", last=2) == 2.0
    with pytest.raises(ValueError):
        History({"loss": []}).smoothed("loss")


@pytest.mark.parametrize("options", [{}, {"lr_schedule": "cosine", "clip_norm": 100.0},
                                     {"weight_decay": 1e-6},
                                     {"lr_schedule": lambda step: min(1.0, (step + 1) / 50)}])
def test_fit_solves_least_squares_and_leaves_eval_mode(options):
    torch.manual_seed(0)
    X = torch.randn(256, 3)
    y = X @ torch.tensor([1.0, -2.0, 0.5]) + 0.01 * torch.randn(256)
    model = torch.nn.Linear(3, 1, bias=False)
    data = torch.cat([X, y[:, None]], dim=1)
    history = fit(model, lambda b: ((model(b[:, :3]).squeeze(1) - b[:, 3]) ** 2).mean(),
                  data, steps=600, batch_size=64, lr=0.05, progress=False, **options)
    w_ls = torch.linalg.lstsq(X, y[:, None]).solution.squeeze(1)
    assert torch.allclose(model.weight.detach().squeeze(0), w_ls, atol=2e-3)
    assert not model.training and history.steps == 600


def test_fit_records_parts_accepts_ready_batches_and_restores_eval_mode_on_error():
    model = torch.nn.Linear(2, 1)
    batches = iter([(torch.ones(4, 2),)] * 5)

    def loss_fn(x):
        loss = model(x).pow(2).mean()
        return loss + 1.0, {"loss": loss.item(), "extra": 2.0}

    first = model(torch.ones(4, 2)).pow(2).mean().item()
    history = fit(model, loss_fn, batches, steps=5, progress=False)
    assert history.steps == 5 and history["extra"] == [2.0] * 5
    assert history["loss"][0] == pytest.approx(first)  # the part, not the total (first + 1)

    def broken(x):
        assert model.training
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fit(model, broken, torch.ones(8, 2), steps=1, batch_size=4, progress=False)
    assert not model.training


def test_fit_checks_its_arguments():
    model = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="batch_size is needed"):
        fit(model, lambda x: x.sum(), torch.ones(4, 2), steps=1)
    with pytest.raises(ValueError, match="lr_schedule must be"):
        fit(model, lambda x: x.sum(), torch.ones(4, 2), steps=1, batch_size=2,
            lr_schedule="linear")
    with pytest.raises(TypeError, match="optimizer must be"):
        fit(model, lambda x: x.sum(), torch.ones(4, 2), steps=1, batch_size=2, optimizer="adam")
    frozen = torch.nn.Linear(2, 1).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        fit(frozen, lambda x: x.sum(), torch.ones(4, 2), steps=1, batch_size=2)
