"""Image-to-text: Flamingo's recipe in miniature (Alayrac et al. 2022).

A language model that has only ever read captions learns to look at pictures without being
changed: it stays frozen, and new **gated cross-attention** blocks
(:class:`~genai_course.multimodal.attention.GatedCrossAttentionBlock`) are inserted before
each of its transformer blocks. Their ``tanh`` gates start at 0, so at initialisation the
captioner computes *exactly* the language model's logits (the tests check it bit for bit);
training (of the new blocks only) opens the gates.

* :func:`train_caption_lm` -- pretrain Chapter 3's :class:`~genai_course.llm.transformer.GPT`
  on captions alone (padding ignored);
* :class:`Captioner` -- frozen vision encoder (CLIP's image encoder: an 8x8 grid of patch
  tokens) + frozen language model + trainable gated cross-attention; ``generate`` decodes
  greedily or by sampling (:func:`genai_course.llm.decoding.sample_next`);
* :func:`score_captions` -- attribute accuracy of captions (parsed exactly by
  :func:`genai_course.data.shapes.parse_caption`) and corpus BLEU against every full caption
  of the true attributes (Papineni et al. 2002, via nltk).

Used in: chapter 5 (the ``captioner-shapes`` checkpoint).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genai_course.core.train import History, fit
from genai_course.data import shapes
from genai_course.llm.decoding import sample_next
from genai_course.llm.transformer import GPT
from genai_course.multimodal.attention import GatedCrossAttentionBlock
from genai_course.multimodal.clip import ImageEncoder, adamw, warmup_cosine
from genai_course.multimodal.tokens import BOS, EOS, PAD, WordTokenizer
from genai_course.runtime import seeded

IGNORE = -100  # F.cross_entropy's ignore_index: padding positions are not scored


def next_token_targets(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``ids[:, :-1]`` and targets ``ids[:, 1:]`` with padding targets ignored."""
    targets = ids[:, 1:].masked_fill(ids[:, 1:] == PAD, IGNORE)
    return ids[:, :-1], targets


def train_caption_lm(lm: GPT, ids: torch.Tensor, *, steps: int, batch_size: int = 128,
                     lr: float = 3e-3, seed: int = 0, progress: bool | None = None) -> History:
    """Next-token training of ``lm`` on padded caption ids (n, L) (``<bos> ... <eos> <pad>``)."""
    def loss_fn(batch: torch.Tensor) -> torch.Tensor:
        return lm.loss(*next_token_targets(batch))

    return fit(lm, loss_fn, ids, steps=steps, batch_size=batch_size, seed=seed,
               optimizer=adamw(lm, lr, 0.1), lr_schedule=warmup_cosine(steps, steps // 10),
               clip_norm=1.0, desc="caption LM", progress=progress)


class Captioner(nn.Module):
    """``logits = LM(words | pictures)``: before each block of the frozen language model
    ``lm``, a gated cross-attention block lets the words attend to the frozen ``vision``
    encoder's patch tokens (:class:`GatedCrossAttentionBlock`; ``set_gated_forward`` of
    :mod:`genai_course.multimodal.attention` makes them run another function of their
    parameters)."""

    def __init__(self, lm: GPT, vision: ImageEncoder, tokenizer: WordTokenizer, n_head: int = 4,
                 seed: int | None = None) -> None:
        super().__init__()
        self.lm = lm.requires_grad_(False)
        self.vision = vision.requires_grad_(False)
        self.tokenizer = tokenizer
        with seeded(seed):
            self.xattn = nn.ModuleList(GatedCrossAttentionBlock(lm.config.n_embd, vision.width,
                                                                n_head)
                                       for _ in lm.blocks)

    def visual_tokens(self, images: torch.Tensor) -> torch.Tensor:
        """The frozen encoder's patch tokens (B, grid * grid, width)."""
        with torch.no_grad():
            return self.vision.tokens(images)

    def forward(self, images: torch.Tensor | None, ids: torch.Tensor,
                visual: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token logits (B, T, vocab) of ``ids`` (B, T) given the pictures (or their
        precomputed ``visual`` tokens)."""
        lm = self.lm
        if ids.ndim != 2 or ids.shape[1] > lm.config.block_size:
            raise ValueError(f"ids must have shape (B, T <= {lm.config.block_size})")
        if visual is None:
            if images is None:
                raise ValueError("give the pictures or their visual tokens")
            visual = self.visual_tokens(images)
        x = lm.tok_emb(ids)
        if lm.pos_emb is not None:
            x = x + lm.pos_emb(torch.arange(ids.shape[1], device=ids.device))
        x = lm.drop(x)
        for xattn, block in zip(self.xattn, lm.blocks, strict=True):
            x = block(xattn(x, visual))
        return lm.lm_head(lm.ln_f(x))

    def loss(self, images: torch.Tensor | None, ids: torch.Tensor,
             visual: torch.Tensor | None = None) -> torch.Tensor:
        """Mean next-token cross-entropy of the captions ``ids`` given their pictures (or
        their precomputed ``visual`` tokens)."""
        inputs, targets = next_token_targets(ids)
        logits = self(images, inputs, visual)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                               ignore_index=IGNORE)

    def gates(self) -> dict[str, float]:
        """``tanh`` of every gate (0 at initialisation), by parameter name."""
        return {name: torch.tanh(p).item() for name, p in self.xattn.named_parameters()
                if name.endswith("gate")}

    @torch.no_grad()
    def generate(self, images: torch.Tensor, temperature: float = 0.0, top_k: int | None = None,
                 generator: torch.Generator | None = None, max_tokens: int | None = None
                 ) -> list[str]:
        """One caption per picture, token by token from ``<bos>`` until ``<eos>``: greedy
        for ``temperature = 0``, else sampled (``top_k`` optional)."""
        self.eval()
        device = next(self.lm.parameters()).device
        images = images.to(device)
        visual = self.visual_tokens(images)
        limit = self.lm.config.block_size if max_tokens is None else max_tokens
        ids = torch.full((len(images), 1), BOS, dtype=torch.long, device=device)
        done = torch.zeros(len(images), dtype=torch.bool, device=device)
        for _ in range(limit - 1):
            logits = self(images, ids, visual)[:, -1]
            nxt = sample_next(logits, temperature, top_k, None, generator)[:, 0]
            nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
            ids = torch.cat([ids, nxt[:, None]], dim=1)
            done |= nxt == EOS
            if bool(done.all()):
                break
        return [self.tokenizer.decode(row.tolist()) for row in ids.cpu()]


def train_captioner(model: Captioner, visual: torch.Tensor, ids: torch.Tensor, *, steps: int,
                    batch_size: int = 128, lr: float = 2e-3, seed: int = 0,
                    progress: bool | None = None) -> History:
    """Train the gated cross-attention blocks (the rest is frozen) on pairs of pictures'
    patch tokens ``visual`` (precompute them once with :meth:`Captioner.visual_tokens`) and
    captions ``ids``; records ``loss`` and the mean ``|tanh(gate)|`` as ``gate``."""
    def loss_fn(vb: torch.Tensor, tb: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        gates = model.gates().values()
        return model.loss(None, tb, vb), {"gate": sum(abs(g) for g in gates) / len(gates)}

    return fit(model, loss_fn, (visual, ids), steps=steps, batch_size=batch_size, seed=seed,
               optimizer=adamw(model, lr, 0.01), lr_schedule=warmup_cosine(steps, steps // 10),
               clip_norm=1.0, desc="captioner", progress=progress)


def score_captions(captions: list[str], attributes: torch.Tensor) -> dict[str, float]:
    """How well captions describe their pictures: for each attribute, the share of captions
    that state it correctly (a caption that omits it counts as wrong); ``"all"``, the share
    that state all four correctly; ``"contradicts"``, the share that state something false;
    and ``"bleu"``, corpus BLEU-4 (uniform weights) against every full caption of the true
    attributes (:func:`genai_course.data.shapes.full_captions`)."""
    from nltk.translate.bleu_score import corpus_bleu

    if len(captions) != len(attributes) or not captions:
        raise ValueError("need one caption per attribute row (and at least one)")
    correct = torch.zeros(len(captions), len(shapes.NAMES), dtype=torch.bool)
    contradicts = torch.zeros(len(captions), dtype=torch.bool)
    for i, (text, row) in enumerate(zip(captions, attributes.tolist(), strict=True)):
        stated = shapes.parse_caption(text)
        for j, name in enumerate(shapes.NAMES):
            correct[i, j] = stated[name] == row[j]
        contradicts[i] = not shapes.caption_is_true(text, row)
    scores = {name: float(correct[:, j].double().mean()) for j, name in enumerate(shapes.NAMES)}
    scores["all"] = float(correct.all(dim=1).double().mean())
    scores["contradicts"] = float(contradicts.double().mean())
    references = [[c.split() for c in shapes.full_captions(row)] for row in attributes.tolist()]
    scores["bleu"] = float(corpus_bleu(references, [c.split() for c in captions]))
    return scores
