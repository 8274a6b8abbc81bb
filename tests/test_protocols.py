"""Every model follows the one contract of ``genai_course.core.protocols``: seeded
construction, ``sample(n, *, generator=None)``, ``log_prob(x)`` in nats per example, and
``evaluate_*`` functions returning a float."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest
import torch

import genai_course
from genai_course.classic.classifiers import GaussianClassConditional
from genai_course.core.protocols import contract_violations, return_type_violations
from genai_course.diffusion.denoisers import MLPDenoiser, UNet
from genai_course.evaluation.digit_classifier import DigitClassifier
from genai_course.generative.energy import GaussianMixtureEnergy, ScoreNet
from genai_course.generative.flows import RealNVP
from genai_course.generative.gan import MLPDiscriminator, MLPGenerator
from genai_course.generative.made import MADE
from genai_course.generative.vae import VAE
from genai_course.llm.transformer import GPT, GPTConfig


def _modules():
    for info in pkgutil.walk_packages(genai_course.__path__, "genai_course."):
        if ".course" not in info.name:
            yield importlib.import_module(info.name)


#: Every trainable model: how to build a small one with a seed, and an input for its
#: ``log_prob`` where it has one.
TRAINABLE = {
    VAE: lambda seed: VAE((2,), latent_dim=2, hidden=8, seed=seed),
    MLPGenerator: lambda seed: MLPGenerator(hidden=8, seed=seed),
    MLPDiscriminator: lambda seed: MLPDiscriminator(hidden=8, seed=seed),
    RealNVP: lambda seed: RealNVP(dim=2, n_layers=2, hidden=8, seed=seed),
    MADE: lambda seed: MADE(n_in=6, hidden=8, seed=seed),
    ScoreNet: lambda seed: ScoreNet(dim=2, hidden=8, seed=seed),
    GPT: lambda seed: GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8),
                          seed=seed),
    UNet: lambda seed: UNet((1, 8, 8), channels=(8, 8), emb_dim=16, seed=seed),
    MLPDenoiser: lambda seed: MLPDenoiser(dim=2, hidden=8, n_blocks=1, seed=seed),
    DigitClassifier: lambda seed: DigitClassifier((4, 4), hidden=8, seed=seed),
}
#: Models with no trainable parameters (exact densities, fitted statistics).
FIXED = {
    GaussianMixtureEnergy: lambda: GaussianMixtureEnergy(torch.tensor([[0.0, 0.0], [2.0, 1.0]]),
                                                         0.5),
    GaussianClassConditional: lambda: GaussianClassConditional().fit(
        np.random.default_rng(0).normal(size=(40, 2)), np.arange(40) % 2),
}
INPUTS = {
    RealNVP: torch.randn(5, 2), MADE: (torch.rand(5, 6) < 0.5).float(),
    GaussianMixtureEnergy: torch.randn(5, 2),
    GaussianClassConditional: np.random.default_rng(1).normal(size=(5, 2)),
}


def test_every_model_with_sample_or_log_prob_is_covered_here():
    """A new model joins the contract test by being added to TRAINABLE or FIXED."""
    found = {
        obj for module in _modules() for _, obj in inspect.getmembers(module, inspect.isclass)
        if obj.__module__ == module.__name__ and (hasattr(obj, "sample") or
                                                  hasattr(obj, "log_prob"))
        and not getattr(obj, "_is_protocol", False)
        and "Sampler" not in [b.__name__ for b in obj.__mro__]
        and obj.__name__ not in ("TinyLang", "MarkovChainCorpus", "NGramLanguageModel",
                                 "LatentDiffusion")
    }
    missing = {c.__qualname__ for c in found} - {c.__qualname__ for c in {**TRAINABLE, **FIXED}}
    assert not missing, f"add these models to tests/test_protocols.py: {sorted(missing)}"


@pytest.mark.parametrize("cls", [*TRAINABLE, *FIXED], ids=lambda c: c.__name__)
def test_model_signatures_follow_the_contract(cls):
    assert contract_violations(cls) == []


@pytest.mark.parametrize("cls", list(TRAINABLE), ids=lambda c: c.__name__)
def test_seed_fixes_the_initial_parameters_without_touching_global_state(cls):
    build = TRAINABLE[cls]
    state = torch.random.get_rng_state()
    a, b, c = build(0), build(0), build(1)
    assert torch.equal(torch.random.get_rng_state(), state), "the seed leaked into global state"
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), name
    assert any(not torch.equal(x, z) for x, z in zip(a.state_dict().values(),
                                                      c.state_dict().values(), strict=True))


@pytest.mark.parametrize("cls", [c for c in [*TRAINABLE, *FIXED] if hasattr(c, "sample")],
                         ids=lambda c: c.__name__)
def test_sample_is_reproducible_with_a_generator(cls):
    model = TRAINABLE[cls](0) if cls in TRAINABLE else FIXED[cls]()
    numpy = cls is GaussianClassConditional

    def gen():
        return np.random.default_rng(3) if numpy else torch.Generator().manual_seed(3)

    first, again = model.sample(4, generator=gen()), model.sample(4, generator=gen())
    first, again = (first[0], again[0]) if numpy else (first, again)
    assert len(first) == 4
    np.testing.assert_array_equal(np.asarray(first), np.asarray(again))


@pytest.mark.parametrize("cls", [c for c in [*TRAINABLE, *FIXED] if hasattr(c, "log_prob")],
                         ids=lambda c: c.__name__)
def test_log_prob_is_one_finite_number_per_example(cls):
    model = TRAINABLE[cls](0) if cls in TRAINABLE else FIXED[cls]()
    out = model.log_prob(INPUTS[cls])
    assert tuple(out.shape) == (5,)
    assert np.isfinite(np.asarray(out.detach() if isinstance(out, torch.Tensor) else out)).all()


def test_every_evaluate_function_returns_a_float():
    found = [obj for module in _modules()
             for name, obj in inspect.getmembers(module, inspect.isfunction)
             if name.startswith("evaluate_") and obj.__module__ == module.__name__]
    assert len(found) >= 5
    problems = [p for fn in found for p in return_type_violations(fn)]
    assert not problems, problems


def test_every_source_folder_is_a_package_that_a_wheel_would_ship():
    """setuptools finds only folders with an ``__init__.py``; a folder without one would be
    missing from ``pip install genai-course`` (an editable install hides that)."""
    from pathlib import Path

    from setuptools import find_packages

    root = Path(genai_course.__file__).parent
    found = set(find_packages(str(root.parent), include=["genai_course*"]))
    folders = {".".join(p.parent.relative_to(root.parent).parts)
               for p in root.rglob("*.py") if "__pycache__" not in p.parts}
    assert folders <= found, sorted(folders - found)
