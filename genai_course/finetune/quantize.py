"""Post-training weight quantisation from scratch: symmetric absmax int8 / int4.

A weight matrix ``W`` (``out x in``) is stored as integers ``q`` and a scale ``s``::

    s = max|W| / (2^(b-1) - 1),     q = clamp(round(W / s), -(2^(b-1) - 1), 2^(b-1) - 1),
    W ~ s * q                        (|W - s q| <= s / 2 elementwise)

(symmetric absmax quantisation, Dettmers et al. 2022, "LLM.int8()", section 2; Jacob et al.
2018 for the integer arithmetic). *Per-tensor*: one ``s`` for the whole matrix; *per-channel*:
one ``s`` per output row, so a row of large weights (an *outlier channel*) no longer
coarsens the grid of every other row. ``b = 8`` gives 255 levels, ``b = 4`` 15; two int4
values are packed in a byte (:func:`pack_int4`). :class:`QuantizedLinear` keeps the integers
and dequantises them for each matmul ("weight-only" quantisation: memory and file size
shrink, the arithmetic stays in floating point).

* :func:`absmax_quantize`, :func:`dequantize` -- the two maps;
* :func:`pack_int4`, :func:`unpack_int4` -- two 4-bit integers per byte;
* :class:`QuantizedLinear`, :func:`quantize_linear_layers` -- a model with quantised layers;
* :func:`round_weights` -- float16 / bfloat16 copies of the weights, for comparison;
* :func:`state_dict_bytes` -- the size of a model's saved weights;
* :func:`torch_dynamic_int8` -- PyTorch's own int8 path (``quantize_dynamic``: int8 weights
  *and* int8 matmuls), where this PyTorch build still has it.

Used in: chapter 7.
"""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from genai_course.finetune.lora import replace_module

BITS = (4, 8)


def _levels(bits: int) -> int:
    if bits not in BITS:
        raise ValueError(f"bits must be one of {BITS}, got {bits!r}")
    return 2 ** (bits - 1) - 1


def absmax_quantize(weight: torch.Tensor, bits: int = 8, per_channel: bool = True
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(q, scale)`` with ``q`` an int8 tensor of ``weight``'s shape in
    ``[-(2^(bits-1) - 1), 2^(bits-1) - 1]`` and ``scale`` float32 of shape ``(out, 1)``
    (per output row) or ``(1, 1)`` (per tensor), ``scale = absmax / (2^(bits-1) - 1)``
    (1 where the absmax is 0), ``q = round(weight / scale)`` (round half to even)."""
    if not isinstance(weight, torch.Tensor) or weight.ndim != 2 \
            or not weight.is_floating_point():
        raise ValueError("weight must be a 2-D floating-point tensor (out x in)")
    top = _levels(bits)
    w = weight.detach().float()
    absmax = w.abs().amax(dim=1, keepdim=True) if per_channel else w.abs().amax().reshape(1, 1)
    scale = torch.where(absmax > 0, absmax / top, torch.ones_like(absmax))
    q = torch.clamp(torch.round(w / scale), -top, top).to(torch.int8)
    return q, scale


def dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``scale * q`` in float32."""
    return q.float() * scale


def pack_int4(q: torch.Tensor) -> torch.Tensor:
    """Two int4 values (in ``[-8, 7]``) per uint8 byte: the first in the low nibble (two's
    complement); an odd count is padded with a 0."""
    flat = q.flatten().to(torch.int16)
    if ((flat < -8) | (flat > 7)).any():
        raise ValueError("int4 values must lie in [-8, 7]")
    if flat.numel() % 2:
        flat = torch.cat([flat, flat.new_zeros(1)])
    nibbles = flat & 0xF
    return (nibbles[0::2] | (nibbles[1::2] << 4)).to(torch.uint8)


def unpack_int4(packed: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """The int8 tensor of ``shape`` that :func:`pack_int4` packed."""
    b = packed.to(torch.int16)
    nibbles = torch.stack([b & 0xF, b >> 4], dim=1).flatten()
    values = torch.where(nibbles > 7, nibbles - 16, nibbles).to(torch.int8)
    n = 1
    for s in shape:
        n *= s
    return values[:n].reshape(tuple(shape))


class QuantizedLinear(nn.Module):
    """A linear layer whose weight is kept as ``bits``-bit integers (int4 packed two per
    byte) and a float32 scale per row (or per tensor); each forward pass dequantises the
    weight and runs a floating-point matmul. The bias stays float32."""

    def __init__(self, linear: nn.Linear, bits: int = 8, per_channel: bool = True) -> None:
        super().__init__()
        self.bits, self.per_channel = bits, per_channel
        self.in_features, self.out_features = linear.in_features, linear.out_features
        q, scale = absmax_quantize(linear.weight, bits, per_channel)
        self.register_buffer("qweight", pack_int4(q) if bits == 4 else q)
        self.register_buffer("scale", scale)
        bias = linear.bias.detach().float().clone() if linear.bias is not None else None
        self.register_buffer("bias", bias)

    def int_weight(self) -> torch.Tensor:
        """The integer weight ``q`` (int8 tensor, ``out x in``)."""
        if self.bits == 4:
            return unpack_int4(self.qweight, (self.out_features, self.in_features))
        return self.qweight

    def weight(self) -> torch.Tensor:
        """The dequantised weight ``scale * q``."""
        return dequantize(self.int_weight(), self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight().to(x.dtype),
                        None if self.bias is None else self.bias.to(x.dtype))

    def extra_repr(self) -> str:
        kind = "per-channel" if self.per_channel else "per-tensor"
        return f"{self.in_features} -> {self.out_features}, int{self.bits}, {kind}"


def quantize_linear_layers(model: nn.Module, bits: int = 8, per_channel: bool = True,
                           skip: Sequence[str] = ("lm_head",)) -> nn.Module:
    """A deep copy of ``model`` whose ``nn.Linear`` layers (except those named in ``skip``,
    e.g. an output layer tied to the embedding) are :class:`QuantizedLinear`."""
    _levels(bits)
    quantized = copy.deepcopy(model)
    names = [n for n, m in quantized.named_modules()
             if isinstance(m, nn.Linear) and n.split(".")[-1] not in skip]
    for name in names:
        replace_module(quantized, name,
                       QuantizedLinear(quantized.get_submodule(name), bits, per_channel))
    return quantized.eval()


@torch.no_grad()
def round_weights(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """A deep copy of ``model`` whose floating-point parameters were rounded to ``dtype``
    (``torch.float16`` or ``torch.bfloat16``) and back: the error of storing the weights in
    that format, with float32 arithmetic."""
    rounded = copy.deepcopy(model)
    for p in rounded.parameters():
        p.copy_(p.to(dtype).to(p.dtype))
    return rounded.eval()


def state_dict_bytes(model: nn.Module, dtype: torch.dtype | None = None) -> int:
    """Bytes of ``torch.save(model.state_dict())`` (shared tensors saved once), with the
    floating-point tensors cast to ``dtype`` first when given (the integer weights and
    scales of :class:`QuantizedLinear` stay as they are)."""
    state = model.state_dict()
    if dtype is not None:
        cast: dict[int, torch.Tensor] = {}  # tied weights stay one tensor
        for key, value in state.items():
            if value.is_floating_point() and not key.endswith("scale"):
                state[key] = cast.setdefault(value.data_ptr(), value.to(dtype))
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.tell()


def torch_dynamic_int8(model: nn.Module) -> nn.Module | None:
    """PyTorch's dynamic int8 quantisation of ``model``'s linear layers (int8 weights per
    tensor, activations quantised on the fly, int8 matmuls in fbgemm/qnnpack), or ``None``
    where this build lacks it (it is deprecated in favour of the separate torchao package)."""
    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear}, dtype=torch.qint8)
        except (RuntimeError, AssertionError, NotImplementedError):
            return None
