import numpy as np
import pytest
import torch

from genai_course.data.toy2d import moons
from genai_course.generative.flows import AffineCoupling, RealNVP, alternating_masks, train_flow

pytestmark = pytest.mark.usefixtures("one_thread")


def test_coupling_keeps_masked_dims_and_inverts():
    layer = AffineCoupling(2, torch.tensor([1.0, 0.0]), hidden=16)
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    y, log_det = layer(x)
    assert y.shape == (50, 2) and log_det.shape == (50,)
    assert torch.equal(y[:, 0], x[:, 0])
    x_back, log_det_inv = layer.inverse(y)
    torch.testing.assert_close(x_back, x, atol=1e-5, rtol=0)
    torch.testing.assert_close(log_det_inv, -log_det)


def test_masks_alternate():
    masks = alternating_masks(2, 3)
    assert [m.tolist() for m in masks] == [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]
    assert alternating_masks(5, 2)[1].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0]


def test_log_prob_matches_change_of_variables_with_autograd_jacobian():
    """log p(x) = log N(f(x); 0, I) + log|det J_f(x)|, J_f from autograd (per point)."""
    model = RealNVP(dim=2, n_layers=4, hidden=16, seed=0).double()
    x = torch.randn(20, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    expected = []
    for point in x:
        jac = torch.autograd.functional.jacobian(lambda p: model(p[None])[0][0], point)
        z = model(point[None])[0][0]
        log_base = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum()
        expected.append(log_base + torch.linalg.slogdet(jac).logabsdet)
    torch.testing.assert_close(model.log_prob(x), torch.stack(expected), atol=1e-5, rtol=0)


def test_log_det_is_consistent_in_float32_too():
    model = RealNVP(dim=3, n_layers=3, hidden=8, seed=0)
    x = torch.randn(4, 3)
    z, log_det = model(x)
    x_back, log_det_inv = model.inverse(z)
    torch.testing.assert_close(x_back, x, atol=1e-5, rtol=0)
    torch.testing.assert_close(log_det_inv, -log_det, atol=1e-5, rtol=0)


def test_inverse_of_forward_is_identity():
    model = RealNVP(seed=0)
    x = 3 * torch.randn(500, 2, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        z, _ = model(x)
        x_back, _ = model.inverse(z)
    torch.testing.assert_close(x_back, x, atol=1e-5, rtol=0)


def _grid_mass(model: RealNVP, lim: float = 6.0, n: int = 300) -> float:
    g = torch.linspace(-lim, lim, n, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="ij")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
    with torch.no_grad():
        density = model.double().log_prob(pts).exp()
    model.float()
    return float(density.sum() * (g[1] - g[0]) ** 2)


@pytest.fixture(scope="module")
def moons_flow() -> tuple[RealNVP, torch.Tensor, float, list[float]]:
    """A RealNVP briefly trained on moons, with its held-out log-likelihood before training."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    x_train, _ = moons(1024, noise=0.08, seed=0)
    x_test = torch.from_numpy(moons(512, noise=0.08, seed=1)[0])
    model = RealNVP(n_layers=6, hidden=32, seed=0)
    with torch.no_grad():
        before = model.log_prob(x_test).mean().item()
    history = train_flow(model, x_train, steps=300, batch_size=128, lr=3e-3, seed=0,
                         progress=False)
    torch.set_num_threads(threads)
    return model, x_test, before, history["loss"]


def test_density_integrates_to_one_on_a_grid(moons_flow):
    untrained = RealNVP(seed=3)
    assert abs(_grid_mass(untrained) - 1) < 0.02
    trained = moons_flow[0]
    assert abs(_grid_mass(trained) - 1) < 0.02


def test_training_on_moons_improves_held_out_likelihood_and_samples(moons_flow):
    model, x_test, before, losses = moons_flow
    with torch.no_grad():
        after = model.log_prob(x_test).mean().item()
    assert len(losses) == 300 and np.isfinite(losses).all()
    assert after > before + 1.0
    assert after > -1.5  # a Gaussian fitted to moons scores about -1.9 nats
    samples = model.sample(1000, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (1000, 2) and samples.dtype == torch.float32
    assert torch.isfinite(samples).all()
    torch.testing.assert_close(samples.mean(0), x_test.mean(0), atol=0.25, rtol=0)


def test_seeded_init_and_sampling_are_deterministic():
    a, b = RealNVP(seed=5), RealNVP(seed=5)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    s1 = a.sample(10, generator=torch.Generator().manual_seed(0))
    s2 = b.sample(10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(s1, s2)


def test_bad_input_is_rejected_with_a_clear_message():
    model = RealNVP(seed=0)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        model.log_prob(torch.zeros(5, 3))
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        model.log_prob(torch.zeros(2))
    with pytest.raises(TypeError, match="torch.Tensor"):
        model.log_prob(np.zeros((5, 2)))
    with pytest.raises(TypeError, match="floating-point"):
        model.log_prob(torch.zeros(5, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="dim >= 2"):
        RealNVP(dim=1)
    with pytest.raises(ValueError, match="mask"):
        AffineCoupling(2, torch.tensor([1.0, 1.0]))
    with pytest.raises(ValueError, match="training data"):
        train_flow(model, np.zeros((4, 3)), steps=1)


def test_coupling_functions_against_autograd_jacobian_and_each_other():
    """coupling_forward's log-det is log|det| of its autograd Jacobian; coupling_inverse
    undoes it with the opposite log-det (RealNVP eq. 6 and 8-9)."""
    from genai_course.generative.flows import coupling_forward, coupling_inverse

    g = torch.Generator().manual_seed(3)
    x, s, t = (torch.randn(4, 5, generator=g, dtype=torch.float64) for _ in range(3))
    mask = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    y, log_det = coupling_forward(x, mask, s, t)
    for i in range(4):
        jac = torch.autograd.functional.jacobian(
            lambda row, i=i: coupling_forward(row[None], mask, s[i:i + 1], t[i:i + 1])[0][0], x[i])
        torch.testing.assert_close(log_det[i], torch.linalg.slogdet(jac)[1])
    x_back, log_det_inv = coupling_inverse(y, mask, s, t)
    torch.testing.assert_close(x_back, x)
    torch.testing.assert_close(log_det_inv, -log_det)


def test_flow_runs_with_given_coupling_functions():
    """Functions passed in (as a student's would be) are the ones the flow uses."""
    from genai_course.generative.flows import coupling_forward, coupling_inverse

    model = RealNVP(dim=2, n_layers=3, hidden=8, seed=0)
    calls = {"forward": 0, "inverse": 0}

    def fwd(*args):
        calls["forward"] += 1
        return coupling_forward(*args)

    def inv(*args):
        calls["inverse"] += 1
        return coupling_inverse(*args)

    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model.log_prob(x, fwd), model.log_prob(x))
    assert calls["forward"] == 3
    a = model.sample(5, generator=torch.Generator().manual_seed(1), coupling_inverse_fn=inv)
    torch.testing.assert_close(a, model.sample(5, generator=torch.Generator().manual_seed(1)))
    assert calls["inverse"] == 3
    train_flow(model, x, steps=2, batch_size=6, coupling=fwd, progress=False)
    assert calls["forward"] == 3 + 2 * 3
