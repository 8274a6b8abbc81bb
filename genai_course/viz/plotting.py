"""Figures for the chapters: milestone timeline, model-size growth, decision regions
(chapter 1); image grids, 2-D densities and samples (chapter 2 onwards).

Each function draws into ``ax`` when given one, else into a new
:class:`matplotlib.figure.Figure` that is not registered with pyplot (no global state,
works under any backend, including Agg). It returns the Figure: a notebook shows it when
it is a cell's last value (or via ``IPython.display.display``); save it with
``fig.savefig``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike

from genai_course.classic.growth import DoublingFit
from genai_course.data.history import ERAS, Milestone, ModelSize, format_params

#: Background colour of each era band in :func:`plot_timeline`.
ERA_COLORS = dict(zip(ERAS, ("#eeeeee", "#dbe9f6", "#fde7cf", "#e3f1dc"), strict=True))
#: Marker colour per milestone ``kind``.
KIND_COLORS = {"text": "#1f77b4", "image": "#d62728", "method": "#555555",
               "multimodal": "#9467bd", "video": "#2ca02c", "code": "#ff7f0e"}
#: Colours of classes 0, 1, 2, ... in :func:`plot_decision_regions`.
CLASS_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")

_BREAK = 2010.0  # years before this are compressed on the timeline axis
_SQUEEZE = 0.12  # horizontal units per year before _BREAK (1 after)


def _new_axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=size, layout="constrained").subplots()


def _timeline_x(year: float) -> float:
    return year if year >= _BREAK else _BREAK - (_BREAK - year) * _SQUEEZE


def plot_timeline(milestones: Sequence[Milestone], ax: Axes | None = None,
                  fontsize: float = 7.5) -> Figure:
    """Horizontal timeline: era bands, one dot per milestone coloured by ``kind``.

    Years before 2010 are compressed (the axis is broken at 2010); milestones of the same
    year are spread across that year in list order. Labels are stacked greedily on up to
    five levels above and below the axis so that they do not overlap.
    """
    if not milestones:
        raise ValueError("no milestones to plot")
    items = sorted(enumerate(milestones), key=lambda im: (im[1].year, im[0]))
    events = [m for _, m in items]
    ax = _new_axes(ax, (14, 6.5))
    fig = ax.figure
    per_year = Counter(m.year for m in events)
    seen: Counter[float] = Counter()
    xs = []
    for m in events:
        width = 1.0 if m.year >= _BREAK else 4.0 * _SQUEEZE
        frac = (seen[m.year] + 0.5) / per_year[m.year] - 0.5
        seen[m.year] += 1
        xs.append(_timeline_x(m.year + 0.5) + width * frac)
    labels = [f"{m.name} ({int(m.year)})" for m in events]
    # Half-widths of the labels in inches, estimated from the character count.
    half_in = [0.5 * 0.55 * fontsize / 72 * len(label) for label in labels]
    axes_in = ax.get_position().width * fig.get_figwidth()
    per_in = (xs[-1] - xs[0]) / (axes_in - half_in[0] - half_in[-1] - 0.3)
    lo, hi = xs[0] - (half_in[0] + 0.15) * per_in, xs[-1] + (half_in[-1] + 0.15) * per_in
    ax.set_xlim(lo, hi)

    # Era bands: boundaries at the era's start year when that separates the two eras'
    # events, else halfway between the last event of one era and the first of the next.
    starts = [0] + [i for i in range(1, len(events)) if events[i].era != events[i - 1].era]
    edges = [lo]
    for i in starts[1:]:
        year = re.search(r"\d{4}", events[i].era)
        nominal = _timeline_x(float(year.group())) if year else xs[i]
        edges.append(nominal if xs[i - 1] < nominal < xs[i] else (xs[i - 1] + xs[i]) / 2)
    edges.append(hi)
    levels = 5
    top = levels + 1.6
    for k, i in enumerate(starts):
        era = events[i].era
        ax.axvspan(edges[k], edges[k + 1], color=ERA_COLORS.get(era, "#f4f4f4"), zorder=0)
        ax.text((edges[k] + edges[k + 1]) / 2, top - 0.2, era.replace(" (", "\n("),
                ha="center", va="top", fontsize=fontsize + 2, fontweight="bold",
                color="#333333")

    # Each label takes the first level (1, -1, 2, -2, ...) whose last label ends before it.
    order = [sign * level for level in range(1, levels + 1) for sign in (1, -1)]
    right_edge = dict.fromkeys(order, -np.inf)
    for x, m, label, half in zip(xs, events, labels, half_in, strict=True):
        free = [v for v in order if right_edge[v] < x - (half + 0.05) * per_in]
        level = free[0] if free else min(order, key=right_edge.__getitem__)
        right_edge[level] = x + half * per_in
        color = KIND_COLORS.get(m.kind, "black")
        ax.plot([x, x], [0, level], color=color, lw=0.6, alpha=0.6, zorder=1)
        ax.scatter([x], [0], s=28, color=color, zorder=3, edgecolor="white", linewidth=0.5)
        ax.text(x, level, label, ha="center", va="bottom" if level > 0 else "top",
                fontsize=fontsize, zorder=4,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": color, "lw": 0.6})
    ax.axhline(0, color="black", lw=1.2, zorder=2)

    ticks = [1950, 1970, 1990, *range(int(_BREAK), int(events[-1].year) + 2, 2)]
    ticks = [t for t in ticks if lo <= _timeline_x(t) <= hi]
    ax.set_xticks([_timeline_x(t) for t in ticks], [str(t) for t in ticks])
    if lo < _BREAK:
        ax.axvline(_BREAK, color="black", lw=0.8, ls=(0, (2, 2)), zorder=1)
        ax.text(_BREAK, -top + 0.5, "axis compressed before 2010 ", ha="right",
                va="bottom", fontsize=fontsize, style="italic", color="#555555")
    ax.set_ylim(-top + 0.4, top)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    handles = [Line2D([], [], marker="o", ls="", color=KIND_COLORS.get(k, "black"), label=k)
               for k in dict.fromkeys(m.kind for m in events)]
    ax.legend(handles=handles, loc="lower left", fontsize=fontsize + 0.5, title="kind",
              title_fontsize=fontsize + 0.5, framealpha=0.9)
    ax.set_title("Milestones of generative AI", fontsize=fontsize + 5)
    return fig


def plot_model_sizes(rows: Sequence[ModelSize], fit: DoublingFit | None = None,
                     ax: Axes | None = None,
                     title: str = "Size of language models (largest of each family)"
                     ) -> Figure:
    """Parameter count (log scale) against year; filled dots = open weights, hollow =
    closed. Rows without a size are listed in a corner note. Models with the same year and
    size share one label. With ``fit``, draws its line and puts the doubling time in the
    legend.
    """
    known = [r for r in rows if r.parameters is not None]
    if not known:
        raise ValueError("no rows with a parameter count to plot")
    ax = _new_axes(ax, (10, 6))
    for is_open, style in ((True, {"color": "#1f77b4"}),
                           (False, {"facecolor": "none", "edgecolor": "#d62728"})):
        group = [r for r in known if r.open_weights == is_open]
        if group:
            ax.scatter([r.year for r in group], [r.parameters for r in group], s=45,
                       linewidth=1.5, zorder=3, **style,
                       label="open weights" if is_open else "closed weights")
    labels: dict[tuple[int, int], list[str]] = {}
    for r in known:
        labels.setdefault((r.year, r.parameters), []).append(r.model)
    for (year, params), names in labels.items():
        # Label to the right unless a point of the next year sits at nearly the same height.
        crowded = any(y == year + 1 and abs(np.log10(p / params)) < 0.15 for y, p in labels)
        ax.annotate(f"{' / '.join(names)} ({format_params(params)})", (year, params),
                    xytext=(-7 if crowded else 7, 0), textcoords="offset points",
                    ha="right" if crowded else "left", va="center", fontsize=8, zorder=4,
                    bbox={"fc": "white", "ec": "none", "alpha": 0.7, "pad": 0.5})
    years = [r.year for r in known]
    if fit is not None:
        grid = np.linspace(min(years) - 0.3, max(years) + 0.3, 50)
        months = 12 * fit.doubling_time
        ax.plot(grid, fit.predict(grid), color="black", ls="--", lw=1, zorder=2,
                label=f"fit: doubles every {fit.doubling_time:.2f} years "
                      f"({months:.1f} months), $r^2$ = {fit.r2:.2f}")
    unknown = [r.model for r in rows if r.parameters is None]
    if unknown:
        ax.text(0.99, 0.02, "size not disclosed: " + ", ".join(unknown),
                transform=ax.transAxes, ha="right", va="bottom", fontsize=8, style="italic")
    ax.set_yscale("log")
    ax.set_xlim(min(years) - 0.6, max(years) + 1.2)
    ax.set_xticks(range(min(years), max(years) + 1))
    ax.set_xlabel("year")
    ax.set_ylabel("parameters")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 0.06), fontsize=9)
    ax.set_title(title)
    return ax.figure


class _Classifier(Protocol):
    classes_: np.ndarray

    def predict_proba(self, X: Any) -> np.ndarray: ...


def plot_decision_regions(
    model: _Classifier, X: ArrayLike, y: ArrayLike, ax: Axes | None = None,
    samples: ArrayLike | tuple[ArrayLike, ArrayLike] | None = None,
    title: str | None = None, resolution: int = 200,
) -> Figure:
    """Predicted-class regions of a fitted classifier over the data, with the data on top.

    Two classes: filled contours of p(class 1 | x) and the p = 0.5 boundary; more
    classes: the argmax region of each class. ``samples`` (an (m, 2) array, or the
    ``(X, y)`` pair returned by ``sample``) are drawn as crosses, coloured by class
    when labels are given. The view covers the data; samples outside it are clipped.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2 or y.shape != (X.shape[0],):
        raise ValueError("X must have shape (n, 2) and y shape (n,)")
    xs_, ys_ = None, None
    if samples is not None:
        if isinstance(samples, tuple):
            xs_, ys_ = np.asarray(samples[0], dtype=np.float64), np.asarray(samples[1])
        else:
            xs_ = np.asarray(samples, dtype=np.float64)
        if xs_.ndim != 2 or xs_.shape[1] != 2:
            raise ValueError("samples must have shape (m, 2)")
    ax = _new_axes(ax, (6.5, 5.5))
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.12 * (hi - lo) + 1e-3
    g0, g1 = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
                         np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution))
    proba = model.predict_proba(np.column_stack([g0.ravel(), g1.ravel()]))
    classes = list(model.classes_)
    colors = [CLASS_COLORS[i % len(CLASS_COLORS)] for i in range(len(classes))]
    if len(classes) == 2:
        p1 = proba[:, 1].reshape(g0.shape)
        cs = ax.contourf(g0, g1, p1, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.35)
        ax.contour(g0, g1, p1, levels=[0.5], colors="black", linewidths=1.2)
        ax.figure.colorbar(cs, ax=ax, label=f"p(y = {classes[1]} | x)")
    else:
        region = proba.argmax(axis=1).reshape(g0.shape)
        ax.contourf(g0, g1, region, levels=np.arange(len(classes) + 1) - 0.5,
                    cmap=ListedColormap(colors), alpha=0.25)
    for c, color in zip(classes, colors, strict=True):
        mask = y == c
        ax.scatter(X[mask, 0], X[mask, 1], s=14, color=color, edgecolor="white",
                   linewidth=0.4, alpha=0.55 if xs_ is not None else 1.0,
                   label=f"data, class {c}")
    if xs_ is not None:
        # Generated points: crosses in a darker shade of the class colour (black if unlabelled).
        groups = [(None, "generated", (0, 0, 0))] if ys_ is None else [
            (c, f"generated, class {c}", tuple(0.6 * v for v in to_rgb(color)))
            for c, color in zip(classes, colors, strict=True)]
        for c, label, color in groups:
            mask = slice(None) if c is None else ys_ == c
            ax.scatter(xs_[mask, 0], xs_[mask, 1], marker="x", s=24, color=color,
                       linewidth=1.3, label=label)
    ax.set_xlim(g0[0, 0], g0[0, -1])
    ax.set_ylim(g1[0, 0], g1[-1, 0])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal", adjustable="box")
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    if title:
        ax.set_title(title)
    return ax.figure


def plot_image_grid(images: Any, nrow: int | None = None, ax: Axes | None = None,
                    title: str | None = None, labels: Sequence[Any] | None = None) -> Figure:
    """Images of shape (N, 1, H, W) or (N, H, W) with values in [-1, 1], tiled in a grid
    (``nrow`` images per row, default about sqrt(N)), greyscale, one pixel gap.

    ``labels`` (one per image) are written in each tile's corner."""
    arr = _numpy(images).astype(np.float32)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 3 or arr.shape[0] == 0:
        raise ValueError(f"images must have shape (N, 1, H, W) or (N, H, W), got {arr.shape}")
    n, h, w = arr.shape
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    ncol_rows = int(np.ceil(n / nrow))
    canvas = np.full((ncol_rows * (h + 1) + 1, nrow * (w + 1) + 1), 1.0, dtype=np.float32)
    for i, img in enumerate(np.clip((arr + 1) / 2, 0, 1)):
        r, c = divmod(i, nrow)
        canvas[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + c * (w + 1): 1 + c * (w + 1) + w] = img
    ax = _new_axes(ax, (nrow * 0.5 + 1, ncol_rows * 0.5 + 0.6))
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    if labels is not None:
        for i, label in enumerate(labels[:n]):
            r, c = divmod(i, nrow)
            ax.text(1 + c * (w + 1), 1 + r * (h + 1), str(label), fontsize=6, color="#d62728",
                    va="top", ha="left")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax.figure


def _numpy(x: Any) -> np.ndarray:
    """A tensor (detached, on the CPU) or array-like as a NumPy array."""
    return np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)


def _square(ax: Axes, extent: float, title: str | None) -> None:
    """Equal-aspect [-extent, extent]^2 axes without ticks, with an optional title."""
    ax.set(xlim=(-extent, extent), ylim=(-extent, extent), aspect="equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)


def plot_density_2d(log_density: Any, extent: float = 3.0, ax: Axes | None = None,
                    samples: ArrayLike | None = None, title: str | None = None,
                    resolution: int = 150) -> Figure:
    """A 2-D density ``exp(log_density(points))`` on the square [-extent, extent]^2 as a
    heat map, optionally with samples on top. ``log_density`` maps an (M, 2) float32
    array (or tensor-accepting function) to M log-densities."""
    grid = np.linspace(-extent, extent, resolution, dtype=np.float32)
    xx, yy = np.meshgrid(grid, grid)
    points = np.stack([xx.ravel(), yy.ravel()], axis=1)
    values = _numpy(log_density(points)).astype(float)
    ax = _new_axes(ax, (4, 4))
    ax.imshow(np.exp(values).reshape(resolution, resolution), origin="lower", cmap="Blues",
              extent=(-extent, extent, -extent, extent))
    if samples is not None:
        pts = _numpy(samples)
        ax.scatter(pts[:, 0], pts[:, 1], s=3, c="#d62728", alpha=0.5, linewidths=0)
    _square(ax, extent, title)
    return ax.figure


def plot_samples_2d(samples: ArrayLike, reference: ArrayLike | None = None,
                    extent: float = 3.0, ax: Axes | None = None,
                    title: str | None = None) -> Figure:
    """Scatter of 2-D ``samples`` (red) over ``reference`` points (grey), on a square."""
    ax = _new_axes(ax, (4, 4))
    if reference is not None:
        ref = _numpy(reference)
        ax.scatter(ref[:, 0], ref[:, 1], s=3, c="#999999", alpha=0.4, linewidths=0)
    pts = _numpy(samples)
    ax.scatter(pts[:, 0], pts[:, 1], s=3, c="#d62728", alpha=0.6, linewidths=0)
    _square(ax, extent, title)
    return ax.figure


def plot_history(history: Any, keys: Sequence[str], smooth: int = 50, ax: Axes | None = None,
                 title: str | None = None, ylabel: str | None = None,
                 labels: Sequence[str] | None = None) -> Figure:
    """Training curves: each recorded ``keys`` of a :class:`genai_course.core.train.History`
    (or a dict of lists) against the step, as a trailing moving average over ``smooth``
    steps (the raw values faint behind it)."""
    if isinstance(smooth, bool) or not isinstance(smooth, int) or smooth < 1:
        raise ValueError(f"smooth must be an int >= 1, got {smooth!r}")
    names = list(labels) if labels is not None else list(keys)
    if len(names) != len(keys):
        raise ValueError(f"need one label per key, got {len(names)} for {len(keys)}")
    ax = _new_axes(ax, (5, 3.5))
    for key, name in zip(keys, names, strict=True):
        values = np.asarray(history[key], dtype=float)
        if values.size == 0:
            raise ValueError(f"nothing was recorded for {key!r}")
        steps = np.arange(1, values.size + 1)
        (line,) = ax.plot(steps, values, alpha=0.2, linewidth=0.8)
        cumsum = np.cumsum(np.insert(values, 0, 0.0))
        window = np.minimum(np.arange(1, values.size + 1), smooth)
        mean = (cumsum[1:] - cumsum[np.arange(values.size) + 1 - window]) / window
        ax.plot(steps, mean, color=line.get_color(), label=name)
    ax.set(xlabel="training step", ylabel=ylabel or "", title=title or "")
    ax.legend(fontsize=8)
    return ax.figure
