"""Chapter-1 figures: right artists, no pyplot state, and they save as PNG."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from genai_course.classic.classifiers import GaussianClassConditional, LogisticRegression  # noqa: E402
from genai_course.classic.growth import fit_doubling_time  # noqa: E402
from genai_course.data.history import EARLY_LLM_SIZES, LLM_SIZES, MILESTONES  # noqa: E402
from genai_course.data.toy2d import two_class_blobs  # noqa: E402
from genai_course.viz.plotting import (  # noqa: E402
    plot_decision_regions,
    plot_model_sizes,
    plot_timeline,
)


def _points(fig: Figure) -> int:
    return sum(len(c.get_offsets()) for ax in fig.axes for c in ax.collections
               if isinstance(c, PathCollection))


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.axes[0].texts]


def _save(fig: Figure, path) -> None:
    fig.savefig(path, dpi=60)
    assert path.stat().st_size > 10_000


@pytest.fixture(autouse=True)
def _no_pyplot_figures():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "plotting functions must not create pyplot figures"


def test_timeline(tmp_path) -> None:
    fig = plot_timeline(MILESTONES)
    assert isinstance(fig, Figure)
    assert _points(fig) == len(MILESTONES)
    texts = _texts(fig)
    for m in MILESTONES:
        assert f"{m.name} ({int(m.year)})" in texts
    assert sum("\n(" in t for t in texts) == 4  # one heading per era
    _save(fig, tmp_path / "timeline.png")
    with pytest.raises(ValueError):
        plot_timeline([])


def test_timeline_labels_do_not_overlap() -> None:
    fig = plot_timeline(MILESTONES)
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in fig.axes[0].texts if t.get_bbox_patch()]
    assert len(boxes) == len(MILESTONES)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)


def test_model_sizes(tmp_path) -> None:
    rows = list(LLM_SIZES) + list(EARLY_LLM_SIZES)
    known = [r for r in rows if r.parameters is not None]
    fit = fit_doubling_time([r.year for r in known], [r.parameters for r in known])
    fig = plot_model_sizes(rows, fit=fit)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert _points(fig) == len(known) == 18
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sorted(len(c.get_offsets()) for c in scatters) == [8, 10]  # closed, open
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(f"{fit.doubling_time:.2f} years" in t for t in legend)
    assert any("GPT-3.5" in t and "GPT-4" in t for t in _texts(fig))
    labels = [a.get_text() for a in ax.texts]
    assert "OPT / BLOOM (175B)" in labels and "Megatron-Turing NLG (530B)" in labels
    _save(fig, tmp_path / "sizes.png")
    no_fit = plot_model_sizes(LLM_SIZES)
    assert len(no_fit.axes[0].lines) == 0
    with pytest.raises(ValueError):
        plot_model_sizes([r for r in LLM_SIZES if r.parameters is None])


def test_decision_regions(tmp_path) -> None:
    X, y = two_class_blobs(200, seed=0)
    gda = GaussianClassConditional().fit(X, y)
    samples = gda.sample(50, generator=np.random.default_rng(0))
    fig = plot_decision_regions(gda, X, y, samples=samples, title="GDA")
    assert _points(fig) == 250
    assert fig.axes[0].get_title() == "GDA"
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "generated, class 1" in legend and "data, class 0" in legend
    _save(fig, tmp_path / "gda.png")
    unlabelled = plot_decision_regions(gda, X, y, samples=samples[0])
    assert _points(unlabelled) == 250
    assert "generated" in [t.get_text() for t in unlabelled.axes[0].get_legend().get_texts()]
    logreg = plot_decision_regions(LogisticRegression().fit(X, y), X, y, resolution=50)
    assert _points(logreg) == 200
    with pytest.raises(ValueError):
        plot_decision_regions(gda, X[:, :1], y)


def test_decision_regions_multiclass_into_given_axes() -> None:
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(loc=c, size=(30, 2)) for c in ([0, 0], [3, 0], [0, 3])])
    y = np.repeat([0, 1, 2], 30)
    fig = Figure()
    ax = fig.subplots()
    out = plot_decision_regions(GaussianClassConditional().fit(X, y), X, y, ax=ax,
                                resolution=40)
    assert out is fig and _points(fig) == 90


def test_image_grid_tiles_images_and_rejects_bad_shapes():
    import torch

    from genai_course.viz.plotting import plot_image_grid

    images = torch.linspace(-1, 1, 5 * 64).reshape(5, 1, 8, 8)
    fig = plot_image_grid(images, nrow=3, labels=list("abcde"))
    (ax,) = fig.axes
    canvas = ax.images[0].get_array()
    assert canvas.shape == (2 * 9 + 1, 3 * 9 + 1)
    # the second image sits in row 0, column 1, mapped from [-1, 1] to [0, 1]
    assert np.allclose(canvas[1:9, 10:18], ((images[1, 0] + 1) / 2).numpy())
    assert [t.get_text() for t in ax.texts] == list("abcde")
    with pytest.raises(ValueError, match="images must have shape"):
        plot_image_grid(torch.zeros(3, 3, 8, 8))


def test_density_and_samples_plots():
    from genai_course.data.toy2d import ring_log_density
    from genai_course.viz.plotting import plot_density_2d, plot_samples_2d

    fig = plot_density_2d(lambda p: ring_log_density(p), extent=3, resolution=50,
                          samples=np.zeros((10, 2)))
    img = fig.axes[0].images[0].get_array()
    assert img.shape == (50, 50) and float(img.max()) > 0
    # the density peaks on the ring (radius 2), not at the centre
    assert img[25, 25] < img.max() / 100
    fig = plot_samples_2d(np.ones((7, 2)), reference=np.zeros((4, 2)))
    assert [len(c.get_offsets()) for c in fig.axes[0].collections] == [4, 7]


def test_history_plot_draws_the_trailing_moving_average() -> None:
    from genai_course.viz.plotting import plot_history

    values = [1.0, 3.0, 5.0, 7.0, 9.0]
    fig = plot_history({"loss": values, "kl": [0.0] * 5}, ["loss", "kl"], smooth=2)
    ax = fig.axes[0]
    raw, mean = ax.lines[0], ax.lines[1]
    np.testing.assert_allclose(raw.get_ydata(), values)
    np.testing.assert_allclose(mean.get_ydata(), [1.0, 2.0, 4.0, 6.0, 8.0])  # by hand
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["loss", "kl"]
    with pytest.raises(ValueError, match="label"):
        plot_history({"loss": values}, ["loss"], labels=["a", "b"])
    with pytest.raises(ValueError, match="smooth"):
        plot_history({"loss": values}, ["loss"], smooth=0)
