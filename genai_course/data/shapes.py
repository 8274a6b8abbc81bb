"""Captioned shapes: small RGB pictures of one shape each, with captions whose truth is known.

Every picture shows one shape on a dark background, described by four attributes:

* ``shape``    circle, square, triangle, cross;
* ``colour``   red, green, blue, yellow;
* ``size``     small, large;
* ``position`` the quadrant: top left, top right, bottom left, bottom right
  (with a little jitter of the centre and the radius).

Captions come from a small grammar: a noun phrase ``a [size] [colour] (shape | shape-word)``
and an optional place ``(in | at) the <quadrant> [corner]``, inside one of four templates
(``"a picture of ..."``, ``"there is ..."``, ...). A caption may mention only some of the
attributes ("a red shape", "there is a circle in the top left"); whatever it mentions is
true of its picture, and :func:`parse_caption` reads the attributes back, so every caption
(also a model's) can be checked exactly.

**Held-out combinations.** Four colour-shape pairs (:data:`HELDOUT`: blue triangles, red
squares, green crosses, yellow circles) never appear in ``combos="seen"`` data, although
every colour and every shape does. ``combos="heldout"`` draws only those pairs, so a model
trained on seen data can be tested on compositions it has never seen (compositional
generalisation, as in CLEVR-style benchmarks).

Images are rendered with anti-aliased edges from signed distances (coverage
``clip(0.5 - d, 0, 1)`` for a pixel whose centre is ``d`` pixels outside the shape) and are
float32 tensors in ``[-1, 1]`` of shape ``(n, 3, size, size)``.

Used in: chapter 5 (and chapters 8 and 10 for multimodal evaluation and bias probes).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from genai_course.core.checks import check_int, check_number

SHAPES = ("circle", "square", "triangle", "cross")
COLOURS = ("red", "green", "blue", "yellow")
SIZES = ("small", "large")
POSITIONS = ("top left", "top right", "bottom left", "bottom right")
#: The attributes in the order of the columns of :attr:`ShapesData.attributes`.
ATTRIBUTES: dict[str, tuple[str, ...]] = {"shape": SHAPES, "colour": COLOURS, "size": SIZES,
                                          "position": POSITIONS}
NAMES = tuple(ATTRIBUTES)
#: Colour-shape pairs that ``combos="seen"`` never draws (one per colour and per shape).
HELDOUT = (("blue", "triangle"), ("red", "square"), ("green", "cross"), ("yellow", "circle"))
COMBOS = ("seen", "heldout", "all")

#: RGB in [0, 1] of each colour (jittered by +-0.05 per channel) and of the background.
RGB = {"red": (0.90, 0.15, 0.12), "green": (0.15, 0.78, 0.20), "blue": (0.20, 0.35, 0.95),
       "yellow": (0.95, 0.85, 0.15)}
BACKGROUND = (0.06, 0.06, 0.08)
#: Radius as a fraction of the image side, per size.
RADIUS = {"small": 0.11, "large": 0.20}

#: Caption templates; ``{np}`` is the noun phrase, ``{pp}`` the place (may be empty).
TEMPLATES = ("{np} {pp}", "there is {np} {pp}", "a picture of {np} {pp}", "{pp} there is {np}")
#: Nouns used when a caption does not name the shape.
SHAPE_WORDS = ("shape", "thing", "figure")
PREPOSITIONS = ("in", "at")

#: Every word the grammar can produce.
VOCABULARY: tuple[str, ...] = tuple(sorted(
    {"a", "the", "there", "is", "picture", "of", "corner", *PREPOSITIONS, *SHAPE_WORDS,
     *SHAPES, *COLOURS, *SIZES} | {w for p in POSITIONS for w in p.split()}))


@dataclass(frozen=True)
class ShapesData:
    """Pictures, one caption each, and the true attributes.

    ``images`` (n, 3, size, size) float32 in [-1, 1]; ``captions`` a list of n strings;
    ``attributes`` (n, 4) int64, column ``j`` indexing ``ATTRIBUTES[NAMES[j]]``.
    """

    images: torch.Tensor
    captions: list[str]
    attributes: torch.Tensor

    def __len__(self) -> int:
        return len(self.captions)

    def attribute(self, name: str) -> torch.Tensor:
        """The (n,) int64 labels of one attribute (``"shape"``, ``"colour"``, ...)."""
        if name not in ATTRIBUTES:
            raise ValueError(f"unknown attribute {name!r}; choose from {NAMES}")
        return self.attributes[:, NAMES.index(name)]

    def __getitem__(self, index: slice | Sequence[int] | torch.Tensor) -> ShapesData:
        """The examples at ``index`` (a slice, indices or a boolean mask)."""
        rows = torch.arange(len(self))[index]
        return ShapesData(self.images[rows], [self.captions[int(i)] for i in rows.reshape(-1)],
                          self.attributes[rows])


def attribute_words(row: Sequence[int]) -> dict[str, str]:
    """The attribute values of one attribute row as words: ``{"shape": "circle", ...}``."""
    return {name: ATTRIBUTES[name][int(i)] for name, i in zip(NAMES, row, strict=True)}


def caption(row: Sequence[int], mention: Iterable[str] = NAMES, template: int = 0,
            noun: int = 0, preposition: int = 0, corner: bool = False) -> str:
    """The caption of an attribute row that mentions the attributes in ``mention`` (at least
    one), in template ``template`` of :data:`TEMPLATES`; ``noun`` picks the shape word
    used when the shape is not mentioned, ``preposition`` "in"/"at", ``corner`` adds
    "corner" to the place."""
    mention = set(mention)
    if not mention or not mention <= set(NAMES):
        raise ValueError(f"mention must be a non-empty subset of {NAMES}, got {sorted(mention)}")
    words = attribute_words(row)
    np_words = ["a"] + [words[a] for a in ("size", "colour") if a in mention]
    np_words.append(words["shape"] if "shape" in mention else SHAPE_WORDS[noun])
    pp = ""
    if "position" in mention:
        pp = f"{PREPOSITIONS[preposition]} the {words['position']}" + (" corner" if corner else "")
    text = TEMPLATES[template].format(np=" ".join(np_words), pp=pp)
    return " ".join(text.split())


def full_captions(row: Sequence[int]) -> list[str]:
    """Every caption of the grammar that mentions all four attributes of ``row`` (the
    reference set for BLEU)."""
    return [caption(row, NAMES, t, 0, p, c) for t in range(len(TEMPLATES))
            for p in range(len(PREPOSITIONS)) for c in (False, True)]


_POSITION_RE = re.compile(r"\b(top|bottom) (left|right)\b")


def parse_caption(text: str) -> dict[str, int | None]:
    """The attributes a caption states, as indices (``None`` where it says nothing).

    Reads colour, shape and size words and a ``top|bottom left|right`` place anywhere in
    the text; a caption that names two different values of one attribute (or a half
    place such as "top" alone) states nothing definite about it (``None``)."""
    if not isinstance(text, str):
        raise TypeError(f"caption must be a str, got {type(text).__name__}")
    words = text.lower().replace(",", " ").replace(".", " ").split()
    found: dict[str, int | None] = {}
    for name in ("shape", "colour", "size"):
        hits = {ATTRIBUTES[name].index(w) for w in words if w in ATTRIBUTES[name]}
        found[name] = hits.pop() if len(hits) == 1 else None
    places = {POSITIONS.index(" ".join(m)) for m in _POSITION_RE.findall(" ".join(words))}
    found["position"] = places.pop() if len(places) == 1 else None
    return found


def caption_is_true(text: str, row: Sequence[int]) -> bool:
    """Whether every attribute that ``text`` states matches the attribute row."""
    stated = parse_caption(text)
    return all(v is None or v == int(row[NAMES.index(k)]) for k, v in stated.items())


def heldout_mask(attributes: torch.Tensor) -> torch.Tensor:
    """True for the rows whose colour-shape pair is one of :data:`HELDOUT`."""
    shape, colour = attributes[:, 0], attributes[:, 1]
    mask = torch.zeros(len(attributes), dtype=torch.bool)
    for c, s in HELDOUT:
        mask |= (colour == COLOURS.index(c)) & (shape == SHAPES.index(s))
    return mask


def combinations(combos: str = "all") -> np.ndarray:
    """Every attribute row of ``combos`` ("seen", "heldout" or "all": 96, 32 or 128 rows),
    in lexicographic order."""
    if combos not in COMBOS:
        raise ValueError(f"combos must be one of {COMBOS}, got {combos!r}")
    grid = np.stack(np.meshgrid(*[np.arange(len(v)) for v in ATTRIBUTES.values()],
                                indexing="ij"), -1).reshape(-1, len(NAMES))
    held = heldout_mask(torch.from_numpy(grid)).numpy()
    return grid[~held] if combos == "seen" else grid[held] if combos == "heldout" else grid


def sample_attributes(n: int, rng: np.random.Generator, combos: str = "seen") -> np.ndarray:
    """``n`` attribute rows drawn uniformly from the allowed combinations."""
    allowed = combinations(combos)
    return allowed[rng.integers(0, len(allowed), size=n)]


def _signed_distance(shape: str, dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Distance (in pixels, negative inside) from pixel centres at offsets (dx, dy) from a
    shape's centre to its outline; half-plane intersections are exact near the edges, which is
    all anti-aliasing needs."""
    if shape == "circle":
        return np.hypot(dx, dy) - r
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) - 0.85 * r
    if shape == "cross":
        arm, width = r, r / 3
        horizontal = np.maximum(np.abs(dx) - arm, np.abs(dy) - width)
        vertical = np.maximum(np.abs(dy) - arm, np.abs(dx) - width)
        return np.minimum(horizontal, vertical)
    if shape == "triangle":  # pointing up, inscribed in the circle of radius r (y grows down)
        s = math.sqrt(3) / 2
        base = dy - r / 2
        left = -s * dx - 0.5 * dy - r / 2
        right = s * dx - 0.5 * dy - r / 2
        return np.maximum(base, np.maximum(left, right))
    raise ValueError(f"unknown shape {shape!r}")


def render(attributes: np.ndarray, rng: np.random.Generator, size: int = 32) -> torch.Tensor:
    """Draw one picture per attribute row: (n, 3, size, size) float32 in [-1, 1]. The centre
    is jittered by up to size/20 within its quadrant, the radius by +-10%, each colour channel
    by +-0.05 (``rng`` draws the jitter)."""
    n = len(attributes)
    quarter = size / 4
    pos = attributes[:, 3]
    cx = np.where(pos % 2 == 0, quarter, 3 * quarter) + rng.uniform(-1, 1, n) * size / 20
    cy = np.where(pos < 2, quarter, 3 * quarter) + rng.uniform(-1, 1, n) * size / 20
    radius = np.array([RADIUS[SIZES[s]] for s in attributes[:, 2]]) * size
    radius = radius * rng.uniform(0.9, 1.1, n)
    colour = np.array([RGB[COLOURS[c]] for c in attributes[:, 1]])
    colour = np.clip(colour + rng.uniform(-0.05, 0.05, (n, 3)), 0, 1)
    grid = np.arange(size) + 0.5
    dx = grid[None, None, :] - cx[:, None, None]
    dy = grid[None, :, None] - cy[:, None, None]
    r = radius[:, None, None]
    dist = np.empty((n, size, size))
    for k, name in enumerate(SHAPES):
        rows = attributes[:, 0] == k
        if rows.any():
            dist[rows] = _signed_distance(name, dx[rows], dy[rows], r[rows])
    cover = np.clip(0.5 - dist, 0.0, 1.0)[:, None]
    pixels = np.asarray(BACKGROUND)[None, :, None, None] * (1 - cover) \
        + colour[:, :, None, None] * cover
    return torch.from_numpy(2 * pixels - 1).float()


def random_caption(row: Sequence[int], rng: np.random.Generator, mention_p: float) -> str:
    """A caption of ``row`` in a random template that mentions each attribute with
    probability ``mention_p`` (at least one; all four for ``mention_p = 1``)."""
    mention = [a for a in NAMES if rng.random() < mention_p]
    if not mention:
        mention = [NAMES[rng.integers(len(NAMES))]]
    return caption(row, mention, template=int(rng.integers(len(TEMPLATES))),
                   noun=int(rng.integers(len(SHAPE_WORDS))),
                   preposition=int(rng.integers(len(PREPOSITIONS))),
                   corner=bool(rng.random() < 0.3))


def make_shapes(n: int, seed: int = 0, *, size: int = 32, combos: str = "seen",
                mention_p: float = 1.0) -> ShapesData:
    """``n`` captioned pictures drawn with ``numpy.random.default_rng(seed)``.

    * ``size``: the image side in pixels (>= 8; 32 by default).
    * ``combos``: ``"seen"`` (every combination except the :data:`HELDOUT` colour-shape
      pairs), ``"heldout"`` (only those pairs) or ``"all"``.
    * ``mention_p``: each attribute is mentioned in the caption with this probability (at
      least one always is); 1 gives full captions that state all four.
    """
    n = check_int(n, "n", 1)
    size = check_int(size, "size", 8)
    mention_p = check_number(mention_p, "mention_p")
    if mention_p > 1:
        raise ValueError(f"mention_p must lie in [0, 1], got {mention_p}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    rng = np.random.default_rng(seed)
    attributes = sample_attributes(n, rng, combos)
    images = render(attributes, rng, size)
    captions = [random_caption(row, rng, mention_p) for row in attributes]
    return ShapesData(images, captions, torch.from_numpy(attributes).long())


def make_gallery(seed: int = 0, *, size: int = 32, combos: str = "all") -> ShapesData:
    """One picture of every combination of ``combos`` (in :func:`combinations` order) with
    its full caption in the first template, so that each caption has exactly one matching
    picture: the setting for retrieval recall@k."""
    rows = combinations(combos)
    images = render(rows, np.random.default_rng(seed), size)
    return ShapesData(images, [caption(r) for r in rows], torch.from_numpy(rows).long())


def class_prompts(attribute: str) -> list[list[str]]:
    """Zero-shot prompts: for each value of ``attribute``, every distinct caption of the
    grammar that mentions only that attribute (``[["a circle", "there is a circle", ...],
    ...]``, the same number for each value); the CLIP paper's prompt ensembling averages
    over the inner lists, and the first prompt of each list is the single-template baseline."""
    if attribute not in ATTRIBUTES:
        raise ValueError(f"unknown attribute {attribute!r}; choose from {NAMES}")
    column = NAMES.index(attribute)
    prompts = []
    for value in range(len(ATTRIBUTES[attribute])):
        row = [0] * len(NAMES)
        row[column] = value
        variants = (caption(row, [attribute], t, noun, p, corner)
                    for t in range(len(TEMPLATES)) for noun in range(len(SHAPE_WORDS))
                    for p in range(len(PREPOSITIONS)) for corner in (False, True))
        prompts.append(list(dict.fromkeys(variants)))  # distinct, in a fixed order
    return prompts
