"""Cross-attention: one modality reads another.

* :func:`cross_attend` -- ``softmax(q k^T / sqrt(d))`` over the *other* sequence's keys, with
  padding keys masked out (Vaswani et al. 2017, eq. 1; the encoder-decoder attention of
  section 3.2.3). Queries come from one modality (image pixels, caption words), keys and
  values from the other (caption words, image patches).
* :class:`CrossAttention` -- the multi-head layer around it; its ``attend`` function can be
  swapped (the chapter's exercise plugs in the student's) and it can keep its attention
  maps (``keep_weights``) for plots.
* :class:`SpatialCrossAttention` -- Stable Diffusion's way to condition a U-Net on text
  (Rombach et al. 2022, section 3.3): every pixel of a feature map is a query over the
  caption's token states; a residual block whose output projection starts at zero, so it
  is the identity before training.
* :class:`GatedCrossAttentionBlock` -- Flamingo's way to give a frozen language model eyes
  (Alayrac et al. 2022, section 2.2 and eq. 1 of appendix A.1.2):
  ``x + tanh(a) * xattn(ln(x), v)`` then ``x + tanh(b) * ffw(ln(x))`` with gates ``a = b =
  0`` at initialisation, so the model is *exactly* the language model until training opens
  the gates. :func:`gated_cross_attention` is the same forward pass written as a function
  of the block's parameters (the chapter's exercise); :func:`set_gated_forward` makes blocks
  run such a function.

Used in: chapter 5 (the conditioned U-Net of :mod:`genai_course.diffusion.denoisers`, the
captioner of :mod:`genai_course.multimodal.captioner`, CLIP's attention pooling).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from genai_course.core.checks import check_int
from genai_course.llm.attention import scaled_dot_product_attention
from genai_course.llm.moe import expert_mlp

#: ``attend(q, k, v, key_mask) -> (out, weights)``, the signature :class:`CrossAttention` calls.
AttendFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None],
                    tuple[torch.Tensor, torch.Tensor]]
#: ``gated(x, context, context_mask, params, n_head) -> x``, the signature of
#: :func:`gated_cross_attention` that a :class:`GatedCrossAttentionBlock` can run instead.
GatedFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor], int],
                   torch.Tensor]
#: The parameters of a :class:`GatedCrossAttentionBlock`, as its ``named_parameters`` names them.
GATED_BLOCK_PARAMETERS = (
    "ln_attn.weight", "ln_attn.bias", "attn.q.weight", "attn.q.bias", "attn.kv.weight",
    "attn.kv.bias", "attn.proj.weight", "attn.proj.bias", "attn_gate", "ln_ff.weight",
    "ln_ff.bias", "ff.0.weight", "ff.0.bias", "ff.2.weight", "ff.2.bias", "ff_gate")


def cross_attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                 key_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of queries ``q`` (B, H, Lq, d) over keys ``k`` and values ``v`` (B, H, Lk, d).

    ``key_mask`` (B, Lk) is True for real keys and False for padding, which then gets weight
    exactly 0. Returns the output (B, H, Lq, d) and the weights (B, H, Lq, Lk), each row
    summing to 1 over the keys."""
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError("q, k and v must have shape (batch, heads, length, head_dim)")
    mask = None
    if key_mask is not None:
        if key_mask.shape != (k.shape[0], k.shape[2]) or key_mask.dtype != torch.bool:
            raise ValueError(f"key_mask must be a bool tensor of shape ({k.shape[0]}, "
                             f"{k.shape[2]}), got {key_mask.dtype} {tuple(key_mask.shape)}")
        mask = key_mask[:, None, None, :]
    return scaled_dot_product_attention(q, k, v, mask=mask, return_weights=True)


class CrossAttention(nn.Module):
    """Multi-head attention from ``x`` (B, Lq, dim) to ``context`` (B, Lk, context_dim).

    Queries are projected from ``x``, keys and values from ``context``; ``n_head`` heads of
    ``dim // n_head`` run :attr:`attend` (default :func:`cross_attend`), and an output
    projection maps back to ``dim``. With ``keep_weights`` the last maps are kept in
    ``last_weights`` (B, H, Lq, Lk)."""

    def __init__(self, dim: int, context_dim: int, n_head: int = 4) -> None:
        super().__init__()
        dim, context_dim = check_int(dim, "dim", 1), check_int(context_dim, "context_dim", 1)
        n_head = check_int(n_head, "n_head", 1)
        if dim % n_head:
            raise ValueError(f"dim ({dim}) must be divisible by n_head ({n_head})")
        self.n_head, self.head_dim = n_head, dim // n_head
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(context_dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.attend: AttendFn = cross_attend
        self.keep_weights = False
        self.last_weights: torch.Tensor | None = None

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        B, L, _ = t.shape
        return t.view(B, L, self.n_head, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor, context: torch.Tensor,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim != 3 or context.ndim != 3 or x.shape[0] != context.shape[0]:
            raise ValueError(f"x (B, Lq, dim) and context (B, Lk, context_dim) need the same "
                             f"batch, got {tuple(x.shape)} and {tuple(context.shape)}")
        k, v = self.kv(context).chunk(2, dim=-1)
        out, weights = self.attend(self._heads(self.q(x)), self._heads(k), self._heads(v),
                                   context_mask)
        if self.keep_weights:
            self.last_weights = weights.detach()
        B, _, Lq, _ = out.shape
        return self.proj(out.transpose(1, 2).reshape(B, Lq, -1))


class SpatialCrossAttention(nn.Module):
    """``h + reshape(CrossAttention(norm(h) as (B, H*W, C) tokens, context))`` for a feature
    map ``h`` (B, C, H, W): each pixel attends to the context tokens. The output projection is
    zero at initialisation, so the block starts as the identity."""

    def __init__(self, channels: int, context_dim: int, head_dim: int = 32) -> None:
        super().__init__()
        channels = check_int(channels, "channels", 1)
        self.norm = nn.GroupNorm(math.gcd(8, channels), channels)
        self.attn = CrossAttention(channels, context_dim, max(1, channels // head_dim))
        nn.init.zeros_(self.attn.proj.weight)
        nn.init.zeros_(self.attn.proj.bias)

    def forward(self, h: torch.Tensor, context: torch.Tensor,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        B, C, H, W = h.shape
        tokens = self.norm(h).flatten(2).transpose(1, 2)  # (B, H*W, C)
        out = self.attn(tokens, context, context_mask)
        return h + out.transpose(1, 2).reshape(B, C, H, W)


def gated_cross_attention(x: torch.Tensor, context: torch.Tensor,
                          context_mask: torch.Tensor | None, params: dict[str, torch.Tensor],
                          n_head: int, attend: AttendFn = cross_attend) -> torch.Tensor:
    """Flamingo's gated cross-attention dense block (Alayrac et al. 2022, appendix A.1.2, eq. 1)
    computed from its parameters: :class:`GatedCrossAttentionBlock`'s forward pass written
    with ``torch.nn.functional``.

    ``x`` (B, T, dim) attends to ``context`` (B, L, context_dim) (``context_mask`` (B, L):
    True for real tokens) with ``n_head`` heads; ``params`` holds the tensors named in
    :data:`GATED_BLOCK_PARAMETERS` (``dict(block.named_parameters())``). Returns
    ``x + tanh(attn_gate) attn(LN(x), context)`` followed by
    ``x + tanh(ff_gate) ff(LN(x))``: ``x`` itself, exactly, while both gates are 0."""
    missing = [name for name in GATED_BLOCK_PARAMETERS if name not in params]
    if missing:
        raise ValueError(f"params lacks {', '.join(missing)}")
    n_head = check_int(n_head, "n_head", 1)
    if x.ndim != 3 or context.ndim != 3 or x.shape[0] != context.shape[0]:
        raise ValueError(f"x (B, T, dim) and context (B, L, context_dim) need the same batch, "
                         f"got {tuple(x.shape)} and {tuple(context.shape)}")
    B, T, dim = x.shape
    if dim % n_head:
        raise ValueError(f"dim ({dim}) must be divisible by n_head ({n_head})")
    p = params

    def heads(t: torch.Tensor) -> torch.Tensor:  # (B, length, dim) -> (B, n_head, length, d)
        return t.reshape(B, t.shape[1], n_head, dim // n_head).transpose(1, 2)

    h = F.layer_norm(x, (dim,), p["ln_attn.weight"], p["ln_attn.bias"])
    keys, values = F.linear(context, p["attn.kv.weight"], p["attn.kv.bias"]).chunk(2, dim=-1)
    out, _ = attend(heads(F.linear(h, p["attn.q.weight"], p["attn.q.bias"])), heads(keys),
                    heads(values), context_mask)
    out = F.linear(out.transpose(1, 2).reshape(B, T, dim), p["attn.proj.weight"],
                   p["attn.proj.bias"])
    x = x + torch.tanh(p["attn_gate"]) * out
    h = F.layer_norm(x, (dim,), p["ln_ff.weight"], p["ln_ff.bias"])
    h = F.linear(F.gelu(F.linear(h, p["ff.0.weight"], p["ff.0.bias"])), p["ff.2.weight"],
                 p["ff.2.bias"])
    return x + torch.tanh(p["ff_gate"]) * h


class GatedCrossAttentionBlock(nn.Module):
    """Flamingo's gated cross-attention dense block, inserted before a frozen LM block:

    ``x = x + tanh(attn_gate) * attn(ln_attn(x), context)``, then
    ``x = x + tanh(ff_gate) * ff(ln_ff(x))``, with both gates scalar parameters that start
    at 0: at initialisation the block returns ``x`` exactly. With :attr:`forward_fn` set (a
    :data:`GatedFn`, see :func:`set_gated_forward`), the forward pass is that function of the
    block's parameters instead of the modules' own."""

    def __init__(self, dim: int, context_dim: int, n_head: int = 4) -> None:
        super().__init__()
        self.ln_attn = nn.LayerNorm(dim)
        self.attn = CrossAttention(dim, context_dim, n_head)
        self.attn_gate = nn.Parameter(torch.zeros(()))
        self.ln_ff = nn.LayerNorm(dim)
        self.ff = expert_mlp(dim, 4 * dim)
        self.ff_gate = nn.Parameter(torch.zeros(()))
        self.forward_fn: GatedFn | None = None

    def forward(self, x: torch.Tensor, context: torch.Tensor,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.forward_fn is not None:
            return self.forward_fn(x, context, context_mask, dict(self.named_parameters()),
                                   self.attn.n_head)
        x = x + torch.tanh(self.attn_gate) * self.attn(self.ln_attn(x), context, context_mask)
        return x + torch.tanh(self.ff_gate) * self.ff(self.ln_ff(x))


def set_attention(model: nn.Module, attend: AttendFn | None = None) -> int:
    """Make every :class:`CrossAttention` inside ``model`` call ``attend`` (``None``: the
    package's :func:`cross_attend`); returns how many layers were changed."""
    layers = [m for m in model.modules() if isinstance(m, CrossAttention)]
    for layer in layers:
        layer.attend = cross_attend if attend is None else attend
    return len(layers)


def set_gated_forward(model: nn.Module, forward_fn: GatedFn | None = None) -> int:
    """Make every :class:`GatedCrossAttentionBlock` inside ``model`` compute its forward pass
    with ``forward_fn`` (``None``: its modules); returns how many blocks were changed."""
    blocks = [m for m in model.modules() if isinstance(m, GatedCrossAttentionBlock)]
    for block in blocks:
        block.forward_fn = forward_fn
    return len(blocks)


def keep_attention_maps(model: nn.Module, keep: bool = True) -> list[CrossAttention]:
    """Switch ``keep_weights`` on (or off) in every :class:`CrossAttention` of ``model``;
    returns the layers, in module order."""
    layers = [m for m in model.modules() if isinstance(m, CrossAttention)]
    for layer in layers:
        layer.keep_weights = keep
        if not keep:
            layer.last_weights = None
    return layers
