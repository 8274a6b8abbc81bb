"""A mixture-of-experts feed-forward layer with top-k routing.

A router scores each token against ``n_experts`` expert MLPs; the token goes to its
``top_k`` best experts only, and their outputs are mixed with the router's softmax
probabilities renormalised over the chosen experts (Shazeer et al. 2017; Mixtral, Jiang et
al. 2024). Parameters grow with the number of experts while the compute per token stays
that of ``top_k`` experts. A load-balancing loss (Switch Transformer, Fedus et al. 2021,
eq. 4) keeps the router from sending every token to the same few experts:

    aux = n_experts * sum_i f_i * P_i,

where ``f_i`` is the share of the token-to-expert assignments that went to expert ``i`` and
``P_i`` the mean router probability of expert ``i``; it is 1 when routing is uniform.
"""

from __future__ import annotations

import torch
from torch import nn


def expert_mlp(n_embd: int, hidden: int, dropout: float = 0.0, bias: bool = True
               ) -> nn.Sequential:
    """The transformer's position-wise feed-forward block ``Linear -> GELU -> Linear``."""
    return nn.Sequential(nn.Linear(n_embd, hidden, bias=bias), nn.GELU(),
                         nn.Linear(hidden, n_embd, bias=bias), nn.Dropout(dropout))


def load_balancing_loss(router_probs: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """Switch Transformer's auxiliary loss ``E * sum_i f_i P_i`` from the router
    probabilities ``(N, E)`` and the chosen experts ``(N, k)`` of ``N`` tokens."""
    n_experts = router_probs.shape[-1]
    counts = torch.zeros(n_experts, device=router_probs.device).index_add_(
        0, chosen.flatten(), torch.ones(chosen.numel(), device=router_probs.device))
    f = counts / chosen.numel()
    return n_experts * (f * router_probs.mean(dim=0)).sum()


class MoEFeedForward(nn.Module):
    """Top-``top_k`` mixture of ``n_experts`` feed-forward experts for ``(..., n_embd)``
    inputs. After each forward pass ``aux_loss`` holds the load-balancing loss and
    ``usage`` the number of tokens each expert received."""

    def __init__(self, n_embd: int, n_experts: int, top_k: int = 2, hidden: int | None = None,
                 dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if not 1 <= top_k <= n_experts:
            raise ValueError(f"need 1 <= top_k <= n_experts, got top_k={top_k}, "
                             f"n_experts={n_experts}")
        self.n_experts, self.top_k = n_experts, top_k
        self.router = nn.Linear(n_embd, n_experts, bias=False)
        self.experts = nn.ModuleList(
            expert_mlp(n_embd, hidden or 4 * n_embd, dropout, bias) for _ in range(n_experts))
        self.aux_loss = torch.zeros(())
        self.register_buffer("usage", torch.zeros(n_experts, dtype=torch.long), persistent=False)

    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Router probabilities ``(N, E)``, chosen experts ``(N, k)`` and their mixing
        weights ``(N, k)`` (probabilities renormalised over the chosen experts)."""
        probs = self.router(x).softmax(dim=-1)
        top_probs, chosen = probs.topk(self.top_k, dim=-1)
        return probs, chosen, top_probs / top_probs.sum(dim=-1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        probs, chosen, gates = self.route(flat)
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            token, slot = (chosen == e).nonzero(as_tuple=True)
            if token.numel():
                out.index_add_(0, token, gates[token, slot, None] * expert(flat[token]))
        self.aux_loss = load_balancing_loss(probs, chosen)
        self.usage = torch.bincount(chosen.flatten(), minlength=self.n_experts)
        return out.view_as(x)
