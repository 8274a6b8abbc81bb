"""A safe wire format for the values that cross between the grader and a student's process.

Only plain data crosses: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``; ``list``,
``tuple``, ``dict``, ``set``, ``frozenset`` and ``collections.Counter`` of those; CPU
``torch.Tensor`` (any strided dtype, with its ``requires_grad`` flag); ``numpy.ndarray``
and numpy scalars of numeric or boolean dtype. Types are matched exactly (``type(x) is
float``), so a subclass, or an object whose ``__eq__`` always returns True, is refused
with a :class:`CodecError` instead of reaching a test.

A message is a JSON header followed by raw array bytes. Decoding never unpickles and never
calls anything the message names: a message written by hostile code can only yield plain
data or a :class:`CodecError`.
"""

from __future__ import annotations

import collections
import json
import struct
from typing import Any

import numpy as np
import torch

MAX_DEPTH = 32
MAX_BYTES = 512 * 2**20

TORCH_DTYPES = {
    str(d).removeprefix("torch."): d
    for d in (
        torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64,
        torch.complex128, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
        torch.bool,
    )
}
NUMPY_KINDS = set("biufc")  # bool, signed, unsigned, float, complex


class CodecError(TypeError):
    """A value cannot cross the process boundary (its type is not plain data)."""


def _describe(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}" if kind.__module__ != "builtins" \
        else kind.__qualname__


def encode(value: Any) -> bytes:
    """Serialise ``value`` (plain data only, see the module docstring)."""
    blobs: list[bytes] = []

    def blob(data: bytes) -> int:
        blobs.append(data)
        return len(blobs) - 1

    def walk(x: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise CodecError(f"value nested deeper than {MAX_DEPTH} levels")
        kind = type(x)
        if x is None or kind in (bool, str):
            return x
        if kind is int:
            return {"int": str(x)}  # JSON numbers would lose big ints
        if kind is float:
            return {"float": repr(x)}  # keeps nan, inf and -0.0 exact
        if kind is bytes:
            return {"bytes": blob(x)}
        if kind in (list, tuple, set, frozenset):
            return {kind.__name__: [walk(v, depth + 1) for v in x]}
        if kind in (dict, collections.Counter):
            return {kind.__name__: [[walk(k, depth + 1), walk(v, depth + 1)] for k, v in x.items()]}
        if kind is torch.Tensor:
            if x.layout != torch.strided or x.is_quantized:
                raise CodecError(f"a {x.layout} tensor cannot be graded; return a dense tensor")
            name = str(x.dtype).removeprefix("torch.")
            if name not in TORCH_DTYPES:
                raise CodecError(f"tensors of dtype {x.dtype} cannot be graded")
            data = x.detach().cpu().contiguous()
            raw = data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b""
            return {"tensor": [name, list(data.shape), blob(raw), bool(x.requires_grad)]}
        if kind is np.ndarray or isinstance(x, np.generic) and kind.__module__ == "numpy":
            arr = np.asarray(x)
            if arr.dtype.kind not in NUMPY_KINDS:
                raise CodecError(f"numpy arrays of dtype {arr.dtype} cannot be graded")
            tag = "ndarray" if kind is np.ndarray else "npscalar"
            raw = np.ascontiguousarray(arr).tobytes()
            return {tag: [arr.dtype.str, list(arr.shape), blob(raw)]}
        raise CodecError(
            f"a value of type {_describe(x)} cannot be graded: return tensors, numpy arrays, "
            "numbers, strings, or lists/tuples/dicts of them"
        )

    tree = walk(value, 0)
    header = json.dumps({"v": tree, "sizes": [len(b) for b in blobs]}).encode()
    body = b"".join(blobs)
    if len(header) + len(body) > MAX_BYTES:
        raise CodecError(f"value larger than {MAX_BYTES // 2**20} MB")
    return struct.pack("<Q", len(header)) + header + body


def decode(message: bytes) -> Any:
    """Rebuild a value from :func:`encode`'s bytes; malformed input raises CodecError."""
    try:
        (n,) = struct.unpack_from("<Q", message)
        header = json.loads(message[8:8 + n])
        sizes = header["sizes"]
        if not (isinstance(sizes, list) and all(type(s) is int and s >= 0 for s in sizes)):
            raise CodecError("bad blob table")
        offsets, pos = [], 8 + n
        for size in sizes:
            offsets.append((pos, pos + size))
            pos += size
        if pos != len(message):
            raise CodecError("message length does not match its blob table")
        return _build(header["v"], message, offsets, 0)
    except CodecError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, struct.error, RuntimeError) as exc:
        raise CodecError(f"malformed message: {exc}") from None


def _build(node: Any, message: bytes, offsets: list[tuple[int, int]], depth: int) -> Any:
    if depth > MAX_DEPTH + 1:
        raise CodecError("message nested too deeply")
    if node is None or type(node) in (bool, str):
        return node
    if type(node) is not dict or len(node) != 1:
        raise CodecError("malformed node")
    ((tag, payload),) = node.items()

    def raw(index: Any) -> bytes:
        if type(index) is not int or not 0 <= index < len(offsets):
            raise CodecError(f"bad blob index {index!r}")
        start, stop = offsets[index]
        return message[start:stop]

    def sub(v: Any) -> Any:
        return _build(v, message, offsets, depth + 1)

    if tag == "int":
        return int(payload)
    if tag == "float":
        return float(payload)
    if tag == "bytes":
        return raw(payload)
    if tag in ("list", "tuple", "set", "frozenset"):
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](
            sub(v) for v in payload
        )
    if tag in ("dict", "Counter"):
        out = {} if tag == "dict" else collections.Counter()
        for key, value in payload:
            out[sub(key)] = sub(value)
        return out
    if tag == "tensor":
        name, shape, index, requires_grad = payload
        dtype = TORCH_DTYPES[name]
        shape = [int(s) for s in shape]
        data = raw(index)
        if not data:
            tensor = torch.empty(shape, dtype=dtype)
            if tensor.numel():
                raise CodecError("tensor bytes missing")
        else:
            flat = torch.frombuffer(bytearray(data), dtype=torch.uint8)
            tensor = flat.view(dtype).reshape(shape)
        return tensor.requires_grad_(bool(requires_grad)) if tensor.is_floating_point() \
            or tensor.is_complex() else tensor
    if tag in ("ndarray", "npscalar"):
        dtype_str, shape, index = payload
        dtype = np.dtype(str(dtype_str))
        if dtype.kind not in NUMPY_KINDS:
            raise CodecError(f"numpy dtype {dtype} not allowed")
        arr = np.frombuffer(raw(index), dtype=dtype).reshape([int(s) for s in shape]).copy()
        return arr if tag == "ndarray" else arr[()]
    raise CodecError(f"unknown tag {tag!r}")
