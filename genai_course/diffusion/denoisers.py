"""Noise-prediction networks ``eps_theta(x_t, t, y)``: a small U-Net for images, an MLP for
points, and the time and class embedding they share.

* :func:`timestep_embedding` -- the sinusoidal encoding of the step ``t`` (Vaswani et al.
  2017, section 3.5; used for diffusion by Ho et al. 2020, appendix B).
* :class:`ConditionEmbedding` -- ``MLP(sinusoid(t)) + class_embedding(y)``; the extra class
  index ``num_classes`` is the *null* label that classifier-free guidance trains with
  label dropout (Ho & Salimans 2022).
* :class:`UNet` -- the architecture of DDPM (Ho et al. 2020, appendix B; after Ronneberger
  et al. 2015) scaled down: residual blocks with GroupNorm and SiLU, the embedding added to
  every block, stride-2 convolutions down, nearest-neighbour upsampling up, and skip
  connections that concatenate each resolution's features into the decoder. With
  ``context_dim > 0`` a spatial cross-attention block follows the residual blocks of the
  chosen resolutions, so every pixel can read a sequence of context vectors (a caption's
  token states: Stable Diffusion's text conditioning, Rombach et al. 2022, section 3.3).
* :class:`MLPDenoiser` -- residual MLP blocks for 2-D points or an autoencoder's latents.

Used in: chapters 4, 5, 9, 10.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from genai_course.core.checks import check_int, check_points
from genai_course.multimodal.attention import SpatialCrossAttention
from genai_course.runtime import seeded


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer steps ``t`` (n,) -> (n, dim) float32 (``dim`` even):
    ``[cos(t w_0), ..., cos(t w_{k-1}), sin(t w_0), ..., sin(t w_{k-1})]`` with ``k = dim / 2``
    and ``w_i = max_period^(-i / k)`` (Vaswani et al. 2017, section 3.5)."""
    if not isinstance(t, torch.Tensor) or t.ndim != 1:
        raise ValueError(f"t must be a 1-D tensor of steps, got {getattr(t, 'shape', t)!r}")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2 or dim % 2:
        raise ValueError(f"dim must be an even int >= 2, got {dim!r}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    angles = t.to(torch.float32)[:, None] * freqs[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)


class ConditionEmbedding(nn.Module):
    """``emb(t, y) = MLP(timestep_embedding(t)) + E[y]`` of width ``dim``.

    With ``num_classes = C > 0`` the table ``E`` has ``C + 1`` rows: labels ``0..C-1`` and
    the null label ``C`` (:attr:`null_class`), which stands for "no label" and is what
    ``labels=None`` means. With ``num_classes = 0`` the model is unconditional.
    """

    def __init__(self, dim: int, num_classes: int = 0) -> None:
        super().__init__()
        self.dim = check_int(dim, "dim", 2)
        if dim % 2:
            raise ValueError(f"dim must be even, got {dim}")
        self.num_classes = check_int(num_classes, "num_classes", 0)
        self.time = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.label = nn.Embedding(num_classes + 1, dim) if num_classes else None

    @property
    def null_class(self) -> int:
        """The label index that means "unconditional" (equal to ``num_classes``)."""
        return self.num_classes

    def forward(self, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.time(timestep_embedding(t, self.dim))
        if labels is None:
            if self.label is None:
                return emb
            labels = torch.full_like(t, self.null_class, dtype=torch.long)
        elif self.label is None:
            raise ValueError("this model is unconditional (num_classes=0); pass labels=None")
        if labels.shape != t.shape:
            raise ValueError(f"labels must have shape {tuple(t.shape)}, got {tuple(labels.shape)}")
        if labels.min() < 0 or labels.max() > self.null_class:
            raise ValueError(f"labels must lie in 0..{self.null_class} ({self.null_class} = null)")
        return emb + self.label(labels)


class ResBlock(nn.Module):
    """``x + conv(act(norm(conv(act(norm(x))) + Linear(emb))))`` (Ho et al. 2020, app. B),
    with a 1x1 convolution on the skip path when the channel count changes."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int = 8) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(math.gcd(groups, c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(math.gcd(groups, c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Denoiser(nn.Module):
    """What every noise predictor here shares: an :class:`ConditionEmbedding` ``embed`` whose
    class count and null label the samplers read as ``num_classes`` and ``null_class``."""

    embed: ConditionEmbedding

    @property
    def num_classes(self) -> int:
        return self.embed.num_classes

    @property
    def null_class(self) -> int:
        return self.embed.null_class


class UNet(Denoiser):
    """Noise predictor ``eps(x_t, t, y)`` for images of shape ``data_shape`` (C, H, W).

    ``channels = (c_0, ..., c_L)``: one residual block per resolution, a stride-2
    convolution between resolutions (H and W must be divisible by ``2**L``), a middle block
    at the coarsest resolution, then the mirror image with nearest-neighbour upsampling and
    the encoder's features concatenated at each resolution (the skip connections). The
    output convolution starts at zero, so the untrained model predicts ``eps = 0``.
    ``num_classes > 0`` makes it class-conditional (see :class:`ConditionEmbedding`).

    ``context_dim > 0`` adds a :class:`~genai_course.multimodal.attention.SpatialCrossAttention`
    block after the residual block of each resolution in ``attention_levels`` (0 is the
    finest; default: every level) on the way down and up, and after the middle block; then
    ``forward`` needs ``context`` (N, L, context_dim) and optionally ``context_mask`` (N, L),
    True for real tokens. Those blocks start as the identity.
    """

    def __init__(self, data_shape: Sequence[int] = (1, 8, 8), channels: Sequence[int] = (32, 64),
                 emb_dim: int = 64, num_classes: int = 0, seed: int | None = None,
                 context_dim: int = 0, attention_levels: Sequence[int] | None = None) -> None:
        super().__init__()
        self.data_shape = tuple(int(s) for s in data_shape)
        if len(self.data_shape) != 3 or min(self.data_shape) < 1:
            raise ValueError(f"data_shape must be (C, H, W), got {data_shape!r}")
        self.channels = tuple(check_int(c, "channels", 1) for c in channels)
        if not self.channels:
            raise ValueError("channels must name at least one width")
        levels = len(self.channels) - 1
        c, h, w = self.data_shape
        if h % 2**levels or w % 2**levels:
            raise ValueError(f"H and W must be divisible by 2**{levels} for channels "
                             f"{self.channels}, got data_shape {self.data_shape}")
        with seeded(seed):
            self.embed = ConditionEmbedding(emb_dim, num_classes)
            self.conv_in = nn.Conv2d(c, self.channels[0], 3, padding=1)
            self.down = nn.ModuleList()
            self.downsample = nn.ModuleList()
            prev = self.channels[0]
            for i, ch in enumerate(self.channels):
                self.down.append(ResBlock(prev, ch, emb_dim))
                if i < levels:
                    self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                prev = ch
            self.middle = ResBlock(prev, prev, emb_dim)
            self.up = nn.ModuleList()
            for i in reversed(range(len(self.channels))):
                self.up.append(ResBlock(prev + self.channels[i], self.channels[i], emb_dim))
                prev = self.channels[i]
            self.norm_out = nn.GroupNorm(math.gcd(8, prev), prev)
            self.conv_out = nn.Conv2d(prev, c, 3, padding=1)
            nn.init.zeros_(self.conv_out.weight)
            nn.init.zeros_(self.conv_out.bias)
            self.context_dim = check_int(context_dim, "context_dim", 0)
            levels_with_attention = range(levels + 1) if attention_levels is None \
                else sorted({check_int(i, "attention_levels", 0) for i in attention_levels})
            if any(i > levels for i in levels_with_attention):
                raise ValueError(f"attention_levels must lie in 0..{levels}, got "
                                 f"{list(levels_with_attention)}")
            self.down_attn, self.up_attn = nn.ModuleDict(), nn.ModuleDict()
            self.mid_attn = None
            if self.context_dim:
                for i in levels_with_attention:
                    ch = self.channels[i]
                    self.down_attn[str(i)] = SpatialCrossAttention(ch, self.context_dim)
                    self.up_attn[str(i)] = SpatialCrossAttention(ch, self.context_dim)
                self.mid_attn = SpatialCrossAttention(self.channels[-1], self.context_dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None,
                context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted noise, the shape of ``x`` (N, C, H, W); ``t`` (N,) integer steps;
        ``context`` (N, L, context_dim) and ``context_mask`` (N, L) for a model built with
        ``context_dim > 0``."""
        if x.ndim != 4 or tuple(x.shape[1:]) != self.data_shape:
            raise ValueError(f"x must have shape (N, {', '.join(map(str, self.data_shape))}), "
                             f"got {tuple(x.shape)}")
        if (context is None) != (self.context_dim == 0):
            raise ValueError("pass context exactly when the model was built with context_dim > 0"
                             f" (context_dim = {self.context_dim})")
        if context is not None and (context.ndim != 3 or context.shape[0] != x.shape[0]
                                    or context.shape[2] != self.context_dim):
            raise ValueError(f"context must have shape ({x.shape[0]}, L, {self.context_dim}), "
                             f"got {tuple(context.shape)}")

        def attend(layers: nn.ModuleDict, level: int, h: torch.Tensor) -> torch.Tensor:
            key = str(level)
            return layers[key](h, context, context_mask) if key in layers else h

        emb = self.embed(t, labels)
        h = self.conv_in(x)
        skips = []
        for i, block in enumerate(self.down):
            h = attend(self.down_attn, i, block(h, emb))
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        h = self.middle(h, emb)
        if self.mid_attn is not None:
            h = self.mid_attn(h, context, context_mask)
        for i, block in enumerate(self.up):
            if i > 0:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
            level = len(self.up) - 1 - i
            h = attend(self.up_attn, level, block(torch.cat([h, skips.pop()], dim=1), emb))
        return self.conv_out(F.silu(self.norm_out(h)))


class MLPDenoiser(Denoiser):
    """Noise predictor ``eps(x_t, t, y)`` for points of dimension ``dim`` (2-D toy data, or
    an autoencoder's latent codes): an input layer, ``n_blocks`` residual blocks
    ``h + W2 silu(W1 silu(h) + E emb(t, y))`` and an output layer, where ``emb`` is the
    sinusoidal time (and class) embedding of :class:`ConditionEmbedding`."""

    def __init__(self, dim: int = 2, hidden: int = 128, n_blocks: int = 3, emb_dim: int = 64,
                 num_classes: int = 0, seed: int | None = None) -> None:
        super().__init__()
        dim = check_int(dim, "dim", 1)
        hidden = check_int(hidden, "hidden", 1)
        n_blocks = check_int(n_blocks, "n_blocks", 1)
        self.data_shape = (dim,)
        with seeded(seed):
            self.embed = ConditionEmbedding(emb_dim, num_classes)
            self.inp = nn.Linear(dim, hidden)
            self.blocks = nn.ModuleList(
                nn.ModuleDict({"fc1": nn.Linear(hidden, hidden), "emb": nn.Linear(emb_dim, hidden),
                               "fc2": nn.Linear(hidden, hidden)}) for _ in range(n_blocks))
            self.out = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted noise, shape (n, dim); ``t`` (n,) integer steps."""
        check_points(x, self.data_shape[0])
        emb = self.embed(t, labels)
        h = self.inp(x)
        for block in self.blocks:
            h = h + block["fc2"](F.silu(block["fc1"](F.silu(h)) + block["emb"](emb)))
        return self.out(F.silu(h))
