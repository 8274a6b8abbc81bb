import pytest
import torch

from genai_course.train import History, minibatches, run


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


@pytest.mark.parametrize("options", [{}, {"cosine": True, "clip_norm": 100.0},
                                     {"weight_decay": 1e-6}])
def test_minimize_fits_least_squares_and_leaves_eval_mode(options):
    from genai_course.train import minimize

    torch.manual_seed(0)
    X = torch.randn(256, 3)
    y = X @ torch.tensor([1.0, -2.0, 0.5]) + 0.01 * torch.randn(256)
    model = torch.nn.Linear(3, 1, bias=False)
    data = torch.cat([X, y[:, None]], dim=1)
    history = minimize(model, lambda b: ((model(b[:, :3]).squeeze(1) - b[:, 3]) ** 2).mean(),
                       data, steps=600, batch_size=64, lr=0.05, progress=False, **options)
    w_ls = torch.linalg.lstsq(X, y[:, None]).solution.squeeze(1)
    assert torch.allclose(model.weight.detach().squeeze(0), w_ls, atol=2e-3)
    assert not model.training and history.steps == 600
