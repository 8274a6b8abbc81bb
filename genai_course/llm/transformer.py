"""A GPT: a decoder-only transformer language model (Radford et al. 2018, 2019).

Token embeddings (plus learned position embeddings, or RoPE inside attention), ``n_layer``
pre-LayerNorm blocks ``x + attn(ln(x))``, ``x + mlp(ln(x))`` (GPT-2's placement of the
norms), a final LayerNorm and an output layer that shares its weights with the token
embedding (Press & Wolf 2017). :func:`count_parameters` gives the parameter count from the
configuration alone; :meth:`GPT.generate` decodes with or without a key/value cache;
:func:`block_qkv` and :func:`block_output` are a block's two halves around the attention, as
functions of plain tensors (chapter 3 has students write them).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genai_course.core.train import History, fit
from genai_course.llm.attention import KVCache, MultiHeadAttention, merge_heads, split_heads
from genai_course.llm.decoding import TopPFilter, sample_next
from genai_course.llm.moe import MoEFeedForward, expert_mlp
from genai_course.runtime import seeded

POSITIONAL = ("learned", "rope")


@dataclass(frozen=True)
class GPTConfig:
    """Sizes of a :class:`GPT`. ``positional`` is ``"learned"`` (GPT-2's table of
    ``block_size`` position vectors) or ``"rope"`` (rotary embeddings, no parameters).
    ``n_experts > 0`` swaps every feed-forward block for a top-``moe_top_k`` mixture of
    experts (:class:`~genai_course.llm.moe.MoEFeedForward`)."""

    vocab_size: int
    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    positional: str = "learned"
    n_experts: int = 0
    moe_top_k: int = 2

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head "
                             f"({self.n_head})")
        if self.positional not in POSITIONAL:
            raise ValueError(f"positional must be one of {POSITIONAL}, got {self.positional!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.n_experts < 0 or (self.n_experts and not 1 <= self.moe_top_k <= self.n_experts):
            raise ValueError(f"need n_experts >= 0 and 1 <= moe_top_k <= n_experts, got "
                             f"{self.n_experts}, {self.moe_top_k}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_parameters(config: GPTConfig) -> int:
    """Parameters of ``GPT(config)``, from the formula (``d = n_embd``, ``V = vocab_size``):

    ``V d`` (token embedding, tied with the output layer) ``+ block_size * d`` (learned
    positions only) ``+ n_layer * (4 d + (3 d^2 + 3 d) + (d^2 + d) + MLP) + 2 d`` (final
    LayerNorm), where a block's two LayerNorms have ``2 d`` parameters each, attention has
    ``4 d^2 + 4 d`` and the MLP ``8 d^2 + 5 d`` (``n_experts`` times that, plus a ``d x E``
    router, for a mixture of experts). A dense GPT-2 block is ``12 d^2 + 13 d``.
    """
    d = config.n_embd
    mlp = 8 * d * d + 5 * d
    if config.n_experts:
        mlp = config.n_experts * mlp + d * config.n_experts
    block = 4 * d + 4 * d * d + 4 * d + mlp
    positions = config.block_size * d if config.positional == "learned" else 0
    return config.vocab_size * d + positions + config.n_layer * block + 2 * d


class Block(nn.Module):
    """One pre-LayerNorm transformer block: ``x + attn(ln1(x))`` then ``x + mlp(ln2(x))``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        d = config.n_embd
        self.ln1 = nn.LayerNorm(d)
        self.attn = MultiHeadAttention(d, config.n_head, config.dropout, causal=True,
                                       rope=config.positional == "rope")
        self.ln2 = nn.LayerNorm(d)
        self.mlp: nn.Module = (
            MoEFeedForward(d, config.n_experts, config.moe_top_k, dropout=config.dropout)
            if config.n_experts else expert_mlp(d, 4 * d, config.dropout))
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0
                ) -> torch.Tensor:
        x = x + self.resid_dropout(self.attn(self.ln1(x), cache, layer))
        return x + self.mlp(self.ln2(x))


#: :func:`block_qkv`'s and :func:`block_output`'s names for a dense :class:`Block`'s parameters.
BLOCK_PARAMS = {"ln1.weight": "ln1_weight", "ln1.bias": "ln1_bias",
                "attn.qkv.weight": "qkv_weight", "attn.qkv.bias": "qkv_bias",
                "attn.proj.weight": "proj_weight", "attn.proj.bias": "proj_bias",
                "ln2.weight": "ln2_weight", "ln2.bias": "ln2_bias",
                "mlp.0.weight": "fc_weight", "mlp.0.bias": "fc_bias",
                "mlp.2.weight": "out_weight", "mlp.2.bias": "out_bias"}


def block_params(block: Block) -> dict[str, nn.Parameter]:
    """A dense block's parameters under :data:`BLOCK_PARAMS`' names (the tensors themselves,
    not copies: training through :func:`block_qkv` and :func:`block_output` trains the block)."""
    return {BLOCK_PARAMS[name]: p for name, p in block.named_parameters()}


def block_qkv(x: torch.Tensor, params: dict[str, torch.Tensor], n_head: int
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first half of :class:`Block` as a function of plain tensors: the heads
    ``(B, n_head, T, C / n_head)`` of the queries, keys and values of ``ln1(x)``
    (``params`` as :func:`block_params`)."""
    C = x.shape[-1]
    h = F.layer_norm(x, (C,), params["ln1_weight"], params["ln1_bias"])
    q, k, v = F.linear(h, params["qkv_weight"], params["qkv_bias"]).split(C, dim=-1)
    return split_heads(q, n_head), split_heads(k, n_head), split_heads(v, n_head)


def block_output(x: torch.Tensor, heads: torch.Tensor, params: dict[str, torch.Tensor]
                 ) -> torch.Tensor:
    """The second half of :class:`Block` (no dropout): with ``heads`` the attention's output
    ``(B, H, T, C / H)``, ``x + proj(merge(heads))``, then ``x + out(gelu(fc(ln2(x))))``."""
    C = x.shape[-1]
    x = x + F.linear(merge_heads(heads), params["proj_weight"], params["proj_bias"])
    h = F.layer_norm(x, (C,), params["ln2_weight"], params["ln2_bias"])
    return x + F.linear(F.gelu(F.linear(h, params["fc_weight"], params["fc_bias"])),
                        params["out_weight"], params["out_bias"])



class GPT(nn.Module):
    """A decoder-only transformer over token ids ``(B, T)`` with ``T <= block_size``;
    ``forward`` returns next-token logits ``(B, T, vocab_size)``."""

    def __init__(self, config: GPTConfig, seed: int | None = None) -> None:
        super().__init__()
        self.config = config
        with seeded(seed):
            self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
            self.pos_emb = (nn.Embedding(config.block_size, config.n_embd)
                            if config.positional == "learned" else None)
            self.drop = nn.Dropout(config.dropout)
            self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
            self.ln_f = nn.LayerNorm(config.n_embd)
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
            self.lm_head.weight = self.tok_emb.weight  # weight tying
            self.apply(self._init_weights)
            for name, p in self.named_parameters():  # GPT-2: scale the residual projections
                if name.endswith(("attn.proj.weight", ".2.weight")):
                    nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, 0.0, 0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_parameters(self) -> int:
        """``sum(p.numel())`` over the (unique) parameters."""
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits for every position of ``idx``. With a ``cache``, ``idx`` holds only the
        new tokens; they sit after the ``cache.length()`` cached ones."""
        if idx.ndim != 2:
            raise ValueError(f"idx must have shape (batch, time), got {tuple(idx.shape)}")
        start = 0 if cache is None else cache.length()
        T = idx.shape[1]
        if start + T > self.config.block_size:
            raise ValueError(f"{start + T} positions exceed block_size "
                             f"{self.config.block_size}")
        x = self.tok_emb(idx)
        if self.pos_emb is not None:
            x = x + self.pos_emb(torch.arange(start, start + T, device=idx.device))
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        return self.lm_head(self.ln_f(x))

    def loss(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy (nats per token) of ``targets`` given ``idx``."""
        logits = self(idx)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    def aux_loss(self) -> torch.Tensor:
        """The mean over layers of the mixture-of-experts load-balancing losses of the last
        forward pass (1 when every layer routes evenly; 0 for a dense model)."""
        losses = [b.mlp.aux_loss for b in self.blocks if isinstance(b.mlp, MoEFeedForward)]
        return torch.stack(losses).mean() if losses else torch.zeros(())

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, use_cache: bool = True,
                 generator: torch.Generator | None = None, top_p_fn: TopPFilter | None = None
                 ) -> torch.Tensor:
        """Append ``max_new_tokens`` tokens to ``idx`` (``(B, T)``) one at a time.

        Each token is drawn by :func:`~genai_course.llm.decoding.sample_next` (greedy for
        ``temperature=0``, ``top_p_fn`` in place of the package's nucleus filter) from the
        logits given the last ``block_size`` tokens. With
        ``use_cache`` the keys and values of earlier positions are kept instead of
        recomputed, so each step processes one token. Policy beyond ``block_size``: the
        context window slides; since every position then moves, the cache is rebuilt from
        the cropped window at each such step, which gives exactly the tokens of
        ``use_cache=False`` (but no speed-up past ``block_size``).
        """
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        if idx.ndim != 2 or idx.shape[1] < 1:
            raise ValueError(f"idx must have shape (batch, time >= 1), got {tuple(idx.shape)}")
        was_training = self.training
        self.eval()
        block = self.config.block_size
        cache: KVCache | None = None
        for _ in range(max_new_tokens):
            if not use_cache:
                logits = self(idx[:, -block:])
            elif cache is not None and cache.length() < block:
                logits = self(idx[:, -1:], cache)
            else:  # first step, or the window slid: (re)build the cache from the window
                cache = KVCache(self.config.n_layer)
                logits = self(idx[:, -block:], cache)
            nxt = sample_next(logits[:, -1, :], temperature, top_k, top_p, generator, top_p_fn)
            idx = torch.cat([idx, nxt], dim=1)
        self.train(was_training)
        return idx


def training_flops(n_params: int, n_tokens: int) -> float:
    """Approximate training compute ``6 N D`` in FLOPs for ``N`` parameters and ``D``
    tokens (Kaplan et al. 2020, section 2.1: 2 for the forward pass, 4 for the backward)."""
    return 6.0 * n_params * n_tokens


def random_windows(ids: torch.Tensor, starts: torch.Tensor, block_size: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``ids[s : s + block_size]`` and targets shifted by one, one row per start."""
    offsets = torch.arange(block_size, device=ids.device)
    rows = starts.to(ids.device)[:, None] + offsets
    return ids[rows], ids[rows + 1]


def train_lm(model: GPT, ids: torch.Tensor, steps: int, batch_size: int = 32,
             lr: float = 3e-3, warmup: int = 100, weight_decay: float = 0.1,
             aux_weight: float = 0.01, clip_norm: float = 1.0, seed: int = 0,
             progress: bool | None = None, desc: str = "training GPT") -> History:
    """Train ``model`` on random ``block_size`` windows of the token stream ``ids`` with
    AdamW (decay on matrices only), ``warmup`` steps of linear warm-up then a cosine
    decay to 10% of ``lr``, gradient clipping, and ``aux_weight`` times the
    mixture-of-experts load-balancing loss. Records ``loss`` (cross-entropy, nats per
    token) and, for a mixture of experts, ``aux`` per step; leaves the model in eval mode."""
    block = model.config.block_size
    if ids.ndim != 1 or len(ids) <= block + 1:
        raise ValueError(f"ids must be a 1-D stream longer than block_size + 1 = {block + 1}")
    device = next(model.parameters()).device
    ids = ids.to(device)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr,
                            betas=(0.9, 0.99))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress_ = (step - warmup) / max(1, steps - warmup)
        return 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, progress_)))

    moe = model.config.n_experts > 0

    def loss_fn(starts: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, dict[str, float]]:
        x, y = random_windows(ids, starts, block)
        loss = model.loss(x, y)
        if not moe:
            return loss
        aux = model.aux_loss()
        return loss + aux_weight * aux, {"loss": loss.item(), "aux": aux.item()}

    starts = torch.arange(len(ids) - block - 1)
    return fit(model, loss_fn, starts, steps=steps, batch_size=batch_size, seed=seed,
               optimizer=opt, lr_schedule=factor, clip_norm=clip_norm, desc=desc,
               progress=progress)


@torch.no_grad()
def evaluate_stream_loss(model: GPT, ids: torch.Tensor, min_context: int | None = None,
                batch_size: int = 64) -> float:
    """Mean cross-entropy (nats per token) of the stream ``ids[1:]``, each token predicted
    from the tokens before it: windows of ``block_size`` tokens slide so that every token
    after the first window is predicted from at least ``min_context`` earlier tokens
    (default ``block_size // 2``), and each token is scored exactly once."""
    block = model.config.block_size
    min_context = block // 2 if min_context is None else min_context
    if not 0 <= min_context < block:
        raise ValueError(f"min_context must be in [0, block_size), got {min_context}")
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError("ids must be a 1-D stream of at least 2 tokens")
    n = len(ids) - 1  # targets ids[1:], target t is predicted from ids[: t + 1]
    length, stride = min(block, n), block - min_context
    windows: list[tuple[int, int]] = []  # (start, first scored offset in the window)
    scored = 0
    while scored < n:
        end = min(scored + stride if scored else length, n)
        windows.append((end - length, scored - (end - length)))
        scored = end
    ids = ids.to(next(model.parameters()).device)
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(0, len(windows), batch_size):
        chunk = windows[i:i + batch_size]
        x = torch.stack([ids[s:s + length] for s, _ in chunk])
        y = torch.stack([ids[s + 1:s + 1 + length] for s, _ in chunk])
        nll = F.cross_entropy(model(x).transpose(1, 2), y, reduction="none")
        total += sum(nll[row, first:].sum().item() for row, (_, first) in enumerate(chunk))
    model.train(was_training)
    return total / n
