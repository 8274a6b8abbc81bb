"""Captioned shapes: captions tell the truth about their pictures, held-out combinations stay
out, and the rendering matches the geometry it claims."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genai_course.data import shapes

# tiny models: one thread is fastest, and immune to a loaded machine
pytestmark = pytest.mark.usefixtures("one_thread")


def test_every_caption_is_true_and_parses_back_to_what_it_mentions() -> None:
    for mention_p in (0.3, 0.7, 1.0):
        data = shapes.make_shapes(400, seed=1, combos="all", mention_p=mention_p)
        for text, row in zip(data.captions, data.attributes.tolist(), strict=True):
            stated = shapes.parse_caption(text)
            assert any(v is not None for v in stated.values()), text
            for j, name in enumerate(shapes.NAMES):
                assert stated[name] in (None, row[j]), (text, row)
            assert shapes.caption_is_true(text, row)
            if mention_p == 1.0:
                assert [stated[name] for name in shapes.NAMES] == row, text
            assert set(text.split()) <= set(shapes.VOCABULARY)


def test_a_caption_of_other_attributes_is_false() -> None:
    row = [0, 0, 0, 0]  # small red circle top left
    assert shapes.caption_is_true("a small red circle in the top left", row)
    assert not shapes.caption_is_true("a small blue circle in the top left", row)
    assert not shapes.caption_is_true("there is a circle at the bottom left", row)
    # two values of one attribute state nothing definite about it
    assert shapes.parse_caption("a red and blue circle")["colour"] is None
    assert shapes.parse_caption("a shape at the top")["position"] is None


def test_full_captions_are_the_distinct_references_of_a_row() -> None:
    row = [2, 3, 1, 3]
    refs = shapes.full_captions(row)
    assert len(refs) == len(set(refs)) == 16
    assert "a large yellow triangle in the bottom right" in refs
    assert "in the bottom right corner there is a large yellow triangle" in refs
    assert all(shapes.parse_caption(r) == dict(zip(shapes.NAMES, row, strict=True))
               for r in refs)


def test_heldout_combinations_never_appear_in_seen_data() -> None:
    seen = shapes.make_shapes(2000, seed=0, combos="seen")
    held = shapes.make_shapes(300, seed=0, combos="heldout")
    assert not shapes.heldout_mask(seen.attributes).any()
    assert shapes.heldout_mask(held.attributes).all()
    pairs = {(shapes.COLOURS[c], shapes.SHAPES[s]) for s, c in held.attributes[:, :2].tolist()}
    assert pairs == set(shapes.HELDOUT)
    # every colour and every shape still occurs in the seen data
    for column, values in ((0, shapes.SHAPES), (1, shapes.COLOURS)):
        assert set(seen.attributes[:, column].tolist()) == set(range(len(values)))
    mixed = shapes.make_shapes(2000, seed=0, combos="all")
    share = shapes.heldout_mask(mixed.attributes).double().mean().item()
    assert abs(share - 4 / 16) < 0.04  # 4 of the 16 colour-shape pairs


def test_same_seed_same_data_and_images_in_range() -> None:
    a, b = shapes.make_shapes(50, seed=3), shapes.make_shapes(50, seed=3)
    c = shapes.make_shapes(50, seed=4)
    assert torch.equal(a.images, b.images) and a.captions == b.captions
    assert not torch.equal(a.images, c.images)
    assert a.images.dtype == torch.float32 and a.images.shape == (50, 3, 32, 32)
    assert a.images.min() >= -1 and a.images.max() <= 1
    assert len(a[:10]) == 10 and a[torch.tensor([3])].captions == [a.captions[3]]


# Area of each shape in units of r^2 (r = the radius the shape is drawn with): a circle,
# a square of half-side 0.85 r, an equilateral triangle inscribed in the circle, and a plus
# sign of two 2r x 2r/3 bars (their overlap counted once).
AREA = {"circle": math.pi, "square": (2 * 0.85) ** 2, "triangle": 3 * math.sqrt(3) / 4,
        "cross": 2 * (2 * 2 / 3) - (2 / 3) ** 2}


@pytest.mark.parametrize("shape", shapes.SHAPES)
def test_rendered_coverage_matches_the_geometric_area(shape: str) -> None:
    size, k = 64, shapes.SHAPES.index(shape)
    rows = np.array([[k, 0, 1, p] for p in range(4)] * 5)  # large, red, every quadrant
    rng = np.random.default_rng(0)
    images = shapes.render(rows, rng, size)
    # recover the drawn radii: the same generator draws the same jitter again
    rng = np.random.default_rng(0)
    rng.uniform(-1, 1, len(rows)), rng.uniform(-1, 1, len(rows))
    radius = shapes.RADIUS["large"] * size * rng.uniform(0.9, 1.1, len(rows))
    background = torch.tensor(shapes.BACKGROUND)[:, None, None] * 2 - 1
    red = images[:, 0] - background[0]  # red channel above the background, in [-1, 1] units
    full = red.amax(dim=(1, 2))  # the fully covered pixels
    coverage = (red / full[:, None, None]).sum(dim=(1, 2)).numpy()
    assert np.allclose(coverage, AREA[shape] * radius ** 2, rtol=0.03)


def test_shapes_sit_in_their_quadrant_with_their_colour_and_size() -> None:
    data = shapes.make_shapes(200, seed=5, combos="all")
    background = torch.tensor(shapes.BACKGROUND) * 2 - 1
    diff = (data.images - background[None, :, None, None]).abs().sum(1)  # (n, 32, 32)
    mask = diff > 0.5
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    for i, (_, colour, _, position) in enumerate(data.attributes.tolist()):
        cy = (ys * mask[i]).sum() / mask[i].sum()
        cx = (xs * mask[i]).sum() / mask[i].sum()
        assert (cy > 16) == (position >= 2) and (cx > 16) == (position % 2 == 1)
        mean = ((data.images[i] + 1) / 2)[:, mask[i]].mean(1)
        nearest = min(shapes.COLOURS, key=lambda c: (torch.tensor(shapes.RGB[c]) - mean).norm())
        assert nearest == shapes.COLOURS[colour]
    area = mask.sum(dim=(1, 2)).double()
    for k in range(len(shapes.SHAPES)):  # "small" and "large" are relative to the shape
        kind = data.attribute("shape") == k
        small = data.attribute("size") == 0
        assert area[kind & small].max() < area[kind & ~small].min()


def test_class_prompts_mention_one_attribute_value_each() -> None:
    for name, values in shapes.ATTRIBUTES.items():
        prompts = shapes.class_prompts(name)
        assert len(prompts) == len(values)
        assert len({len(p) for p in prompts}) == 1 and len(prompts[0]) >= 3
        for value, group in enumerate(prompts):
            assert len(set(group)) == len(group)
            for text in group:
                stated = shapes.parse_caption(text)
                assert stated[name] == value
                assert all(v is None for k, v in stated.items() if k != name), text


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="combos"):
        shapes.make_shapes(4, combos="unseen")
    with pytest.raises(ValueError, match="n must be"):
        shapes.make_shapes(0)
    with pytest.raises(ValueError, match="mention_p"):
        shapes.make_shapes(4, mention_p=1.5)
    with pytest.raises(ValueError, match="unknown attribute"):
        shapes.class_prompts("texture")
    with pytest.raises(ValueError, match="non-empty subset"):
        shapes.caption([0, 0, 0, 0], mention=[])
