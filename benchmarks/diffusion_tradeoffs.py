"""Chapter 4's measured trade-offs of diffusion sampling (a measurement, not a timed test).

    python benchmarks/diffusion_tradeoffs.py [--threads 1] [--per-class 50] [--plots DIR]

1. Steps vs quality vs time on 2-D data: trains the :data:`CHECKERBOARD_DEMO` model, then
   draws 2,000 samples with DDPM (all 1,000 steps) and DDIM with 100, 50, 20 and 10 steps,
   and reports the MMD and sliced Wasserstein distance to 2,000 held-out points and the wall
   time. A Gaussian with the data's mean and covariance and a second draw of real data give
   the two ends of the distance scale.
2. Guidance vs accuracy vs diversity on digits: the shipped ``ddpm-digits`` model, DDIM with
   50 steps, ``--per-class`` samples of each digit for w in {0, 1, 3, 5}; accuracy is the
   shipped ``digits-classifier``'s; diversity is measured twice: the mean within-class
   pairwise distance relative to the real training digits, and the MMD between each class's
   samples and the real digits of that class.

Prints Markdown tables; with ``--plots DIR`` also saves the figures there.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genai_course.data import toy2d  # noqa: E402
from genai_course.data.digits import load_digits  # noqa: E402
from genai_course.diffusion import MLPDenoiser, NoiseSchedule, train_diffusion  # noqa: E402
from genai_course.diffusion.studies import (  # noqa: E402
    CHECKERBOARD_DEMO,
    guidance_study,
    sampling_study,
)
from genai_course.evaluation.distances import mmd_rbf, sliced_wasserstein  # noqa: E402
from genai_course.pretrained import load_pretrained  # noqa: E402
from genai_course.viz.plotting import plot_image_grid, plot_samples_2d  # noqa: E402


def table(rows: list[dict], columns: dict[str, tuple[str, str]]) -> str:
    """A Markdown table of ``rows``; ``columns`` maps a key to its (header, number format)."""
    def cell(value: object, spec: str) -> str:
        return format(value, spec) if isinstance(value, float) else str(value)

    head = "| " + " | ".join(h for h, _ in columns.values()) + " |\n|" + "---|" * len(columns)
    body = ["| " + " | ".join(cell(r[k], spec) for k, (_, spec) in columns.items()) + " |"
            for r in rows]
    return "\n".join([head, *body])


def steps_study(plots: Path | None) -> None:
    cfg = CHECKERBOARD_DEMO
    train = torch.as_tensor(toy2d.checkerboard(cfg["n_train"], seed=0))
    test = torch.as_tensor(toy2d.checkerboard(2000, seed=1))
    schedule = NoiseSchedule.cosine(cfg["T"])
    model = MLPDenoiser(dim=2, hidden=cfg["hidden"], n_blocks=cfg["n_blocks"], seed=0)
    history = train_diffusion(model, schedule, train, steps=cfg["steps"],
                              batch_size=cfg["batch_size"], lr=cfg["lr"], seed=0, progress=False)
    print(f"2-D model trained in {history.seconds:.1f} s ({cfg['steps']} steps)\n")
    rows = sampling_study(model, schedule, test, n=2000, seed=0)
    generator = torch.Generator().manual_seed(0)
    chol = torch.linalg.cholesky(torch.cov(train.T))
    gauss = train.mean(0) + torch.randn(2000, 2, generator=generator) @ chol.T
    real = torch.as_tensor(toy2d.checkerboard(2000, seed=2))
    for name, x in [("Gaussian fit (baseline)", gauss), ("real data (floor)", real)]:
        rows.append({"sampler": name, "steps": "-", "seconds": "-", "mmd": mmd_rbf(x, test),
                     "sliced_wasserstein": sliced_wasserstein(x, test)})
    print(table(rows, {"sampler": ("sampler", ""), "steps": ("steps", ""),
                       "mmd": ("MMD^2", ".4f"), "sliced_wasserstein": ("sliced W1", ".4f"),
                       "seconds": ("seconds", ".2f")}))
    if plots:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(15, 3.2), layout="constrained")
        axes = fig.subplots(1, 5)
        for ax, row in zip(axes, rows[:5], strict=True):
            plot_samples_2d(row["samples"], reference=test, ax=ax, extent=2.5,
                            title=f"{row['sampler']}-{row['steps']}")
        fig.savefig(plots / "diffusion_steps.png", dpi=100)


def guidance(per_class: int, plots: Path | None) -> None:
    model = load_pretrained("ddpm-digits")
    classifier = load_pretrained("digits-classifier")
    x, y = load_digits("train")
    start = time.perf_counter()
    rows = guidance_study(model, classifier, x, y, per_class=per_class, steps=50, seed=0)
    print(f"\nguidance study: {10 * per_class} samples per scale, DDIM-50, "
          f"{time.perf_counter() - start:.1f} s in all\n")
    print(table(rows, {"w": ("w", "g"), "accuracy": ("classifier accuracy", ".3f"),
                       "diversity": ("within-class spread (real = 1)", ".3f"),
                       "class_mmd": ("MMD^2 to the real digits of the class", ".4f"),
                       "seconds": ("seconds", ".2f")}))
    if plots:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9, 5), layout="constrained")
        axes = fig.subplots(1, len(rows))
        for ax, row in zip(axes, rows, strict=True):
            pick = torch.cat([torch.nonzero(row["labels"] == c)[:5, 0] for c in range(10)])
            plot_image_grid(row["samples"][pick], nrow=5, ax=ax,
                            title=f"w = {row['w']:g}: accuracy {row['accuracy']:.2f}")
        fig.savefig(plots / "diffusion_guidance.png", dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--per-class", type=int, default=50)
    parser.add_argument("--plots", type=Path, default=None, help="folder for the figures")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.plots:
        args.plots.mkdir(parents=True, exist_ok=True)
    steps_study(args.plots)
    guidance(args.per_class, args.plots)


if __name__ == "__main__":
    main()
