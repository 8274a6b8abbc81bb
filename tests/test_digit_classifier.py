"""The digit classifier that judges generated digits, and its shipped checkpoint."""

from __future__ import annotations

import pytest
import torch

from genai_course.data.digits import load_digits
from genai_course.evaluation.digit_classifier import DigitClassifier, evaluate_accuracy, predict
from genai_course.pretrained import digits_classifier, load_pretrained
from genai_course.pretrained.digits_classifier import augment


def test_shipped_classifier_recognises_held_out_digits() -> None:
    model = load_pretrained("digits-classifier")
    x, y = load_digits("test")
    acc = evaluate_accuracy(model, x, y)
    assert acc >= 0.95, acc
    assert model.metrics["test_accuracy"] == pytest.approx(acc)
    # it judges shapes, not pixel-exact values: mild noise barely changes its verdict
    noisy = x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    assert evaluate_accuracy(model, noisy, y) >= 0.93


def test_augment_shifts_by_at_most_one_pixel_and_pads_with_background() -> None:
    x = -torch.ones(500, 1, 8, 8)
    x[:, :, 3, 4] = 1.0
    out = augment(x, torch.Generator().manual_seed(0), noise=0.0)
    assert out.shape == x.shape
    assert torch.all((out == 1.0).flatten(1).sum(1) == 1)
    rows, cols = torch.nonzero(out[:, 0] == 1.0)[:, 1], torch.nonzero(out[:, 0] == 1.0)[:, 2]
    assert set(rows.tolist()) == {2, 3, 4} and set(cols.tolist()) == {3, 4, 5}
    noisy = augment(x, torch.Generator().manual_seed(0), noise=0.5)
    assert (noisy - out).std().item() == pytest.approx(0.5, rel=0.05)


def test_trainer_and_loader_round_trip(one_thread) -> None:
    payload = digits_classifier.train(0, {"steps": 3, "channels": (4, 4), "hidden": 8})
    assert set(payload) == {"config", "state_dict", "extra", "metrics"}
    model = digits_classifier.load(payload)
    x, y = load_digits("test")
    assert predict(model, x[:5]).shape == (5,)
    assert evaluate_accuracy(model, x, y) == pytest.approx(payload["metrics"]["test_accuracy"])


def test_classifier_checks_shapes() -> None:
    model = DigitClassifier(seed=0)
    with pytest.raises(ValueError, match="x must have shape"):
        model(torch.zeros(2, 64))
    with pytest.raises(ValueError, match="labels must have shape"):
        evaluate_accuracy(model, torch.zeros(2, 1, 8, 8), torch.zeros(3, dtype=torch.long))
