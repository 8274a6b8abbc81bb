"""Attention and position encodings, written out from the papers.

* :func:`scaled_dot_product_attention` — ``softmax(q k^T / sqrt(d) + mask) v``
  (Vaswani et al. 2017, eq. 1), with the same mask conventions as
  :func:`torch.nn.functional.scaled_dot_product_attention`.
* :class:`MultiHeadAttention` — ``h`` heads in parallel subspaces, concatenated and projected
  (Vaswani et al. 2017, section 3.2.2), with an optional key/value cache for generation.
* :func:`causal_attention` — the causal case, with its weights.
* :func:`split_heads` / :func:`merge_heads` — ``(B, T, C) <-> (B, H, T, C / H)``.
* :func:`attend_with_cache` — new queries attend to cached keys/values and to themselves.
* :func:`sinusoidal_positions` — the fixed sine/cosine encodings (Vaswani et al. 2017, 3.5).
* :func:`apply_rope` — rotary position embedding (Su et al. 2021, "RoFormer", eq. 34):
  rotating queries and keys by angles proportional to their positions makes their dot
  product depend only on the *offset* between the positions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def causal_mask(q_len: int, k_len: int | None = None, device: torch.device | None = None
                ) -> torch.Tensor:
    """Boolean ``(q_len, k_len)`` mask, True where query ``i`` may attend to key ``j``.

    The queries are the *last* ``q_len`` of ``k_len`` positions (as when new tokens attend
    to a key/value cache), so query ``i`` sees keys ``j <= i + k_len - q_len``. For
    ``q_len == k_len`` this is the usual lower-triangular mask.
    """
    k_len = q_len if k_len is None else k_len
    if q_len < 1 or k_len < q_len:
        raise ValueError(f"need 1 <= q_len <= k_len, got q_len={q_len}, k_len={k_len}")
    ones = torch.ones(q_len, k_len, dtype=torch.bool, device=device)
    return ones.tril(diagonal=k_len - q_len)


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    return_weights: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q k^T / sqrt(d_k) + bias) v`` for ``q`` of shape ``(..., L, d_k)``, ``k``
    of shape ``(..., S, d_k)`` and ``v`` of shape ``(..., S, d_v)`` (Vaswani et al. 2017).

    ``mask`` broadcasts to ``(..., L, S)``: a boolean mask is True where a query *may*
    attend, a float mask is added to the scores. ``is_causal`` applies
    ``torch.ones(L, S).tril()`` like PyTorch's function (use :func:`causal_mask` when the
    queries are the last ``L`` of ``S`` positions). With ``return_weights`` the attention
    weights ``(..., L, S)`` (after dropout) are returned too.
    """
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k need the same last dimension, got {q.shape[-1]} and "
                         f"{k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v need the same number of positions, got {k.shape[-2]} "
                         f"and {v.shape[-2]}")
    if is_causal and mask is not None:
        raise ValueError("pass either mask or is_causal, not both")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if is_causal:
        mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
    if mask is not None:
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask
    weights = scores.softmax(dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    out = weights @ v
    return (out, weights) if return_weights else out


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Causal self-attention of ``(..., T, d)`` tensors and its weights ``(..., T, T)``:
    :func:`scaled_dot_product_attention` with ``is_causal=True``."""
    out, weights = scaled_dot_product_attention(q, k, v, is_causal=True, return_weights=True)
    return out, weights


def split_heads(x: torch.Tensor, n_head: int) -> torch.Tensor:
    """``(B, T, C) -> (B, n_head, T, C // n_head)``: head ``h`` gets the channels
    ``h * C // n_head`` to ``(h + 1) * C // n_head`` (Vaswani et al. 2017, section 3.2.2)."""
    B, T, C = x.shape
    if C % n_head:
        raise ValueError(f"C ({C}) must be divisible by n_head ({n_head})")
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(B, H, T, D) -> (B, T, H * D)``, the inverse of :func:`split_heads`."""
    B, H, T, D = x.shape
    return x.transpose(1, 2).reshape(B, T, H * D)


def attend_with_cache(q_new: torch.Tensor, k_new: torch.Tensor, v_new: torch.Tensor,
                      k_cache: torch.Tensor, v_cache: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Append ``k_new``, ``v_new`` (``(..., T_new, d)``) after the cached keys and values
    and let the new queries attend causally to all of them (:func:`causal_mask`: the new
    tokens are the last ``T_new`` positions). Returns ``(output, k_all, v_all)``."""
    k_all, v_all = torch.cat([k_cache, k_new], dim=-2), torch.cat([v_cache, v_new], dim=-2)
    mask = causal_mask(q_new.shape[-2], k_all.shape[-2], device=q_new.device)
    return scaled_dot_product_attention(q_new, k_all, v_all, mask=mask), k_all, v_all


def sinusoidal_positions(n_positions: int, dim: int) -> torch.Tensor:
    """The ``(n_positions, dim)`` table ``PE[pos, 2i] = sin(pos / 10000^(2i/dim))``,
    ``PE[pos, 2i+1] = cos(pos / 10000^(2i/dim))`` (Vaswani et al. 2017, section 3.5)."""
    if n_positions < 1 or dim < 2 or dim % 2:
        raise ValueError(f"need n_positions >= 1 and an even dim >= 2, got {n_positions}, {dim}")
    pos = torch.arange(n_positions, dtype=torch.float32)[:, None]
    inv_freq = 10000.0 ** (-torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    table = torch.empty(n_positions, dim)
    table[:, 0::2] = torch.sin(pos * inv_freq)
    table[:, 1::2] = torch.cos(pos * inv_freq)
    return table


def rope_angles(positions: torch.Tensor, dim: int, base: float = 10000.0) -> torch.Tensor:
    """Rotation angles ``positions[t] * base^(-2i/dim)`` of shape ``(T, dim // 2)``
    (RoFormer eq. 15: ``theta_i = base^(-2(i-1)/d)``)."""
    if dim < 2 or dim % 2:
        raise ValueError(f"RoPE needs an even dimension >= 2, got {dim}")
    inv_freq = base ** (-torch.arange(0, dim, 2, dtype=torch.float32, device=positions.device)
                        / dim)
    return positions.to(torch.float32)[:, None] * inv_freq


def apply_rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotate each pair ``(x[..., 2i], x[..., 2i+1])`` of ``x`` (shape ``(..., T, d)``) by
    the angle ``positions[t] * base^(-2i/d)`` (RoFormer eq. 34). Then
    ``<apply_rope(q, m), apply_rope(k, n)>`` depends on ``m - n`` only."""
    if positions.ndim != 1 or positions.shape[0] != x.shape[-2]:
        raise ValueError(f"positions must have shape ({x.shape[-2]},), got "
                         f"{tuple(positions.shape)}")
    angles = rope_angles(positions, x.shape[-1], base)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    even, odd = x[..., 0::2], x[..., 1::2]
    rotated = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)
    return rotated.flatten(-2)


class KVCache:
    """The keys and values each attention layer has computed so far, for generation.

    ``update(layer, k, v)`` appends a layer's new keys/values (shape ``(B, H, T_new, d)``)
    and returns all of them; ``length(layer)`` is the number of positions cached so far.
    """

    def __init__(self, n_layer: int) -> None:
        self.keys: list[torch.Tensor | None] = [None] * n_layer
        self.values: list[torch.Tensor | None] = [None] * n_layer

    def length(self, layer: int = 0) -> int:
        """How many positions ``layer`` has cached."""
        k = self.keys[layer]
        return 0 if k is None else k.shape[-2]

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        past_k, past_v = self.keys[layer], self.values[layer]
        if past_k is not None and past_v is not None:
            k, v = torch.cat([past_k, k], dim=-2), torch.cat([past_v, v], dim=-2)
        self.keys[layer], self.values[layer] = k, v
        return k, v


class MultiHeadAttention(nn.Module):
    """Causal (or bidirectional) multi-head self-attention.

    ``x`` of shape ``(B, T, n_embd)`` is projected to queries, keys and values, split into
    ``n_head`` heads of size ``n_embd // n_head``, attended, concatenated and projected.
    With ``rope=True`` queries and keys are rotated by their positions (:func:`apply_rope`).
    Pass a :class:`KVCache` and the layer index to attend to cached positions too; the new
    tokens then sit at positions ``cache.length(layer), cache.length(layer) + 1, ...``.
    The attention runs in PyTorch's fused kernel, or in :func:`scaled_dot_product_attention`
    when ``keep_weights`` is set, which keeps the maps in ``last_weights`` (the tests check
    that both agree).
    """

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, causal: bool = True,
                 rope: bool = False, bias: bool = True) -> None:
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd ({n_embd}) must be divisible by n_head ({n_head})")
        self.n_head, self.head_dim = n_head, n_embd // n_head
        if rope and self.head_dim % 2:
            raise ValueError(f"RoPE needs an even head size, got {self.head_dim}")
        self.causal, self.rope, self.dropout = causal, rope, dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.keep_weights = False  # True: use our attention and keep its maps (for plots)
        self.last_weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0
                ) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=-1)
        q, k, v = (split_heads(t, self.n_head) for t in (q, k, v))
        start = 0 if cache is None else cache.length(layer)
        if self.rope:
            positions = torch.arange(start, start + T, device=x.device)
            q, k = apply_rope(q, positions), apply_rope(k, positions)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        p = self.dropout if self.training else 0.0
        causal = self.causal and T > 1
        if self.keep_weights:  # our implementation, which can return the weights
            mask = causal_mask(T, k.shape[-2], device=x.device) if causal else None
            out, weights = scaled_dot_product_attention(q, k, v, mask=mask, dropout_p=p,
                                                        return_weights=True)
            self.last_weights = weights.detach()
        else:  # PyTorch's fused kernel computes the same function (tests compare), faster
            # no cache: its built-in causal mask is the right one (a Python bool, so the
            # model also exports with dynamic shapes)
            square = cache is None or T == k.shape[-2]
            mask = causal_mask(T, k.shape[-2], device=x.device) if causal and not square \
                else None
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p,
                                                 is_causal=causal and square)
        return self.proj(merge_heads(out))
