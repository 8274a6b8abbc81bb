"""A safe wire format for the values that cross between the grader and a student's process.

Only plain data crosses: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``; ``list``,
``tuple``, ``dict``, ``set``, ``frozenset`` and ``collections.Counter`` of those; CPU
``torch.Tensor`` (any strided dtype, with its ``requires_grad`` flag); ``numpy.ndarray``
and numpy scalars of numeric or boolean dtype. Types are matched exactly (``type(x) is
float``), so a subclass, or an object whose ``__eq__`` always returns True, is refused
with a :class:`CodecError` instead of reaching a test.

A message is a JSON header followed by raw array bytes. Decoding never unpickles and never
calls anything the message names, and it is strict, because the student's process can write
any bytes it likes: every blob is used exactly once (so one blob cannot be multiplied into
many arrays), an array's bytes must match its dtype and shape before anything is allocated,
and a message is at most :data:`MAX_BYTES` long. A message written by hostile code can only
yield plain data no bigger than itself, or a :class:`CodecError`.

Used in: grading (every chapter).
"""

from __future__ import annotations

import collections
import json
import struct
from typing import Any

import numpy as np
import torch

MAX_DEPTH = 32
MAX_BYTES = 64 * 2**20  # one reply: a value students return is far smaller
MAX_HEADER = 4 * 2**20

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
    """Rebuild a value from :func:`encode`'s bytes; malformed input raises CodecError.

    Checked before anything is built: the total length, the header's size, and that the
    blob table exactly covers the message; while building, each blob is used once and an
    array's byte count must equal its dtype size times its number of elements."""
    try:
        if len(message) > MAX_BYTES + 8:
            raise CodecError(f"message larger than {MAX_BYTES // 2**20} MB")
        (n,) = struct.unpack_from("<Q", message)
        if n > min(MAX_HEADER, len(message) - 8):
            raise CodecError("bad header length")
        header = json.loads(message[8:8 + n])
        if type(header) is not dict or set(header) != {"v", "sizes"}:
            raise CodecError("malformed header")
        sizes = header["sizes"]
        if not (type(sizes) is list and all(type(s) is int and s >= 0 for s in sizes)):
            raise CodecError("bad blob table")
        offsets, pos = [], 8 + n
        for size in sizes:
            offsets.append((pos, pos + size))
            pos += size
        if pos != len(message):
            raise CodecError("message length does not match its blob table")
        used: set[int] = set()
        value = _build(header["v"], message, offsets, used, 0)
        if len(used) != len(offsets):
            raise CodecError("message carries blobs no value uses")
        return value
    except CodecError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, struct.error, RuntimeError,
            RecursionError, OverflowError, MemoryError) as exc:
        raise CodecError(f"malformed message: {type(exc).__name__}: {str(exc)[:200]}") from None


def _shape(shape: Any, itemsize: int, nbytes: int) -> list[int]:
    """``shape`` as ints, checked against the blob's size before any allocation."""
    if type(shape) is not list or len(shape) > MAX_DEPTH or not all(
            type(s) is int and s >= 0 for s in shape):
        raise CodecError(f"bad array shape {str(shape)[:80]}")
    count = 1
    for s in shape:
        count *= s
    if count * itemsize != nbytes:
        raise CodecError(f"array of shape {shape} needs {count * itemsize} bytes, "
                         f"the message has {nbytes}")
    return shape


def _build(node: Any, message: bytes, offsets: list[tuple[int, int]], used: set[int],
           depth: int) -> Any:
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
        if index in used:
            raise CodecError(f"blob {index} used twice")
        used.add(index)
        start, stop = offsets[index]
        return message[start:stop]

    def sub(v: Any) -> Any:
        return _build(v, message, offsets, used, depth + 1)

    if tag == "int" and type(payload) is str:
        return int(payload)
    if tag == "float" and type(payload) is str:
        return float(payload)
    if tag == "bytes":
        return raw(payload)
    if tag in ("list", "tuple", "set", "frozenset") and type(payload) is list:
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](
            sub(v) for v in payload
        )
    if tag in ("dict", "Counter") and type(payload) is list:
        out = {} if tag == "dict" else collections.Counter()
        for item in payload:
            if type(item) is not list or len(item) != 2:
                raise CodecError("malformed dict item")
            out[sub(item[0])] = sub(item[1])
        return out
    if tag == "tensor" and type(payload) is list and len(payload) == 4:
        name, shape, index, requires_grad = payload
        if type(name) is not str or name not in TORCH_DTYPES or type(requires_grad) is not bool:
            raise CodecError("malformed tensor")
        dtype = TORCH_DTYPES[name]
        data = raw(index)
        shape = _shape(shape, torch.empty((), dtype=dtype).element_size(), len(data))
        if not data:
            tensor = torch.empty(shape, dtype=dtype)
        else:
            flat = torch.frombuffer(bytearray(data), dtype=torch.uint8)
            tensor = flat.view(dtype).reshape(shape)
        return tensor.requires_grad_(requires_grad) if tensor.is_floating_point() \
            or tensor.is_complex() else tensor
    if tag in ("ndarray", "npscalar") and type(payload) is list and len(payload) == 3:
        dtype_str, shape, index = payload
        if type(dtype_str) is not str or len(dtype_str) > 8:
            raise CodecError("malformed numpy dtype")
        dtype = np.dtype(dtype_str)
        if dtype.kind not in NUMPY_KINDS or dtype.hasobject:
            raise CodecError(f"numpy dtype {dtype} not allowed")
        data = raw(index)
        shape = _shape(shape, dtype.itemsize, len(data))
        if tag == "npscalar" and shape:
            raise CodecError("a numpy scalar has no shape")
        arr = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
        return arr if tag == "ndarray" else arr[()]
    raise CodecError(f"unknown or malformed node {str(tag)[:40]!r}")
