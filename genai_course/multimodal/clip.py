"""CLIP from scratch: contrastive language-image pre-training (Radford et al. 2021).

Two encoders map a picture and a caption into the same space; training pulls each
picture's embedding towards its own caption's and away from the other captions in the batch.

* :func:`clip_loss` -- the symmetric InfoNCE loss of the paper's Figure 3 pseudo-code:
  ``logits = logit_scale * I_e @ T_e^T``, cross-entropy with the matching pair as the target
  over the rows (image -> text) and over the columns (text -> image), averaged.
* :class:`ImageEncoder` -- a small CNN whose 8x8 feature map (plus learned positions) is a
  grid of patch tokens, pooled by attention with the mean token as the query (CLIP's
  ResNet "attention pooling", section 2.4). The captioner reads the same tokens.
* :class:`TextEncoder` -- Chapter 3's transformer blocks
  (:class:`genai_course.llm.transformer.Block`, causal self-attention, as CLIP's text
  encoder), read at the ``<eos>`` token.
* :class:`CLIP` -- both encoders, linear projections to ``embed_dim``, L2 normalisation and a
  learned temperature: ``logit_scale = exp(s)`` with ``s`` initialised at ``log(1 / 0.07)``
  and the scale clamped at 100 (section 2.5).
* :func:`train_clip` -- AdamW with warm-up and cosine decay through
  :func:`genai_course.core.train.fit`.

Used in: chapter 5 (the ``clip-shapes`` checkpoint; text encoder of the text-to-image model,
image encoder of the captioner), chapter 8 (CLIP score).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genai_course.core.checks import check_int
from genai_course.core.train import History, fit
from genai_course.data.shapes import VOCABULARY
from genai_course.llm.transformer import GPT, Block, GPTConfig
from genai_course.multimodal.attention import CrossAttention
from genai_course.multimodal.tokens import EOS, WordTokenizer
from genai_course.runtime import seeded

#: CLIP's initial temperature 0.07 (logit scale 1 / 0.07) and the clamp on the scale.
INIT_TEMPERATURE = 0.07
MAX_LOGIT_SCALE = 100.0


def clip_loss(image_features: torch.Tensor, text_features: torch.Tensor,
              logit_scale: torch.Tensor | float) -> torch.Tensor:
    """Symmetric InfoNCE of ``n`` matching pairs (Radford et al. 2021, Figure 3).

    ``image_features`` and ``text_features`` (n, d) are L2-normalised already and row ``i`` of
    each is a pair; ``logit_scale`` is the multiplier (already exponentiated). With
    ``logits = logit_scale * image_features @ text_features.T``, the loss is the mean of the
    cross-entropy of each row against its diagonal entry (image -> text) and of each column
    against its diagonal entry (text -> image)."""
    if not isinstance(image_features, torch.Tensor) or not isinstance(text_features, torch.Tensor):
        raise TypeError("image_features and text_features must be tensors")
    if image_features.ndim != 2 or image_features.shape != text_features.shape:
        raise ValueError(f"image_features and text_features must both have shape (n, d), got "
                         f"{tuple(image_features.shape)} and {tuple(text_features.shape)}")
    logits = logit_scale * image_features @ text_features.T
    targets = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


@dataclass(frozen=True)
class CLIPConfig:
    """Sizes of a :class:`CLIP` (and the words its tokenizer knows)."""

    vocabulary: tuple[str, ...] = VOCABULARY
    image_size: int = 32
    channels: tuple[int, int, int] = (16, 32, 64)
    image_width: int = 64
    text_width: int = 64
    text_layers: int = 2
    heads: int = 4
    context: int = 16
    embed_dim: int = 64

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> CLIPConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def conv_block(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    """``Conv3x3(stride) -> GroupNorm -> SiLU``, the unit of the chapter's small CNNs."""
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1),
            nn.GroupNorm(math.gcd(8, c_out), c_out), nn.SiLU()]


class ImageEncoder(nn.Module):
    """Images (B, 3, S, S) in [-1, 1] -> a grid of ``(S/4)^2`` patch tokens of width ``width``
    (:meth:`tokens`) -> one attention-pooled vector (``forward``). The CNN keeps full
    resolution for its first layer (small shapes are a few pixels wide), then halves it twice
    with ``channels = (c0, c1, c2)``."""

    def __init__(self, image_size: int = 32, channels: tuple[int, int, int] = (16, 32, 64),
                 width: int = 64, heads: int = 4) -> None:
        super().__init__()
        image_size = check_int(image_size, "image_size", 4)
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4, got {image_size}")
        c0, c1, c2 = (check_int(c, "channels", 1) for c in channels)
        self.image_size, self.grid, self.width = image_size, image_size // 4, width
        self.conv = nn.Sequential(*conv_block(3, c0), *conv_block(c0, c1, 2), *conv_block(c1, c1),
                                  *conv_block(c1, c2, 2), nn.Conv2d(c2, width, 3, padding=1))
        self.positions = nn.Parameter(torch.randn(self.grid ** 2, width) * 0.02)
        self.ln = nn.LayerNorm(width)
        self.pool = CrossAttention(width, width, heads)

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        """Patch tokens (B, grid * grid, width), row-major over the grid, with positions."""
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, self.image_size, self.image_size):
            raise ValueError(f"images must have shape (B, 3, {self.image_size}, "
                             f"{self.image_size}), got {tuple(images.shape)}")
        return self.ln(self.conv(images).flatten(2).transpose(1, 2) + self.positions)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.tokens(images)
        return self.pool(tokens.mean(dim=1, keepdim=True), tokens)[:, 0]


class TextEncoder(nn.Module):
    """Token ids (B, L) -> token states (B, L, width) through token and learned position
    embeddings, Chapter 3's causal transformer blocks and a final LayerNorm; :meth:`pooled`
    reads the state at each row's first ``<eos>`` (which has seen the whole caption)."""

    def __init__(self, vocab_size: int, width: int = 64, layers: int = 2, heads: int = 4,
                 context: int = 16) -> None:
        super().__init__()
        self.config = GPTConfig(vocab_size=vocab_size, block_size=context, n_layer=layers,
                                n_head=heads, n_embd=width)
        self.tok_emb = nn.Embedding(vocab_size, width)
        self.pos_emb = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(self.config) for _ in range(layers))
        self.ln_f = nn.LayerNorm(width)
        self.apply(GPT._init_weights)

    @property
    def width(self) -> int:
        return self.config.n_embd

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.ndim != 2 or ids.shape[1] > self.config.block_size:
            raise ValueError(f"ids must have shape (B, L <= {self.config.block_size}), got "
                             f"{tuple(ids.shape)}")
        x = self.tok_emb(ids) + self.pos_emb(torch.arange(ids.shape[1], device=ids.device))
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x)

    def pooled(self, ids: torch.Tensor) -> torch.Tensor:
        """The state (B, width) at each row's first ``<eos>``."""
        is_eos = ids == EOS
        if not bool(is_eos.any(dim=1).all()):
            raise ValueError("every row of ids needs an <eos> token")
        where = is_eos.int().argmax(dim=1)
        return self(ids)[torch.arange(len(ids), device=ids.device), where]


class CLIP(nn.Module):
    """Image and text encoders with linear projections into one ``embed_dim`` space.

    ``encode_image(images)`` and ``encode_text(captions or ids)`` return L2-normalised
    embeddings (n, embed_dim); ``forward(images, ids)`` returns both and the logit scale, the
    three arguments of :func:`clip_loss`. ``model.tokenizer`` turns captions into ids."""

    def __init__(self, config: CLIPConfig | None = None, seed: int | None = None) -> None:
        super().__init__()
        self.config = config or CLIPConfig()
        c = self.config
        self.tokenizer = WordTokenizer(c.vocabulary)
        with seeded(seed):
            self.visual = ImageEncoder(c.image_size, c.channels, c.image_width, c.heads)
            self.text = TextEncoder(self.tokenizer.vocab_size, c.text_width, c.text_layers,
                                    c.heads, c.context)
            self.image_projection = nn.Linear(c.image_width, c.embed_dim, bias=False)
            self.text_projection = nn.Linear(c.text_width, c.embed_dim, bias=False)
            self.log_logit_scale = nn.Parameter(torch.tensor(math.log(1 / INIT_TEMPERATURE)))

    @property
    def device(self) -> torch.device:
        return self.log_logit_scale.device

    def logit_scale(self) -> torch.Tensor:
        """``exp(s)`` clamped at 100 (the multiplier of the cosine similarities)."""
        return self.log_logit_scale.exp().clamp(max=MAX_LOGIT_SCALE)

    def tokenize(self, captions: Sequence[str] | torch.Tensor) -> torch.Tensor:
        """Ids (n, context) on the model's device; ids pass through unchanged."""
        if isinstance(captions, torch.Tensor):
            return captions.to(self.device)
        return self.tokenizer.batch(list(captions), self.config.context).to(self.device)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised image embeddings (n, embed_dim)."""
        return F.normalize(self.image_projection(self.visual(images.to(self.device))), dim=-1)

    def encode_text(self, captions: Sequence[str] | torch.Tensor) -> torch.Tensor:
        """L2-normalised text embeddings (n, embed_dim) of captions (strings or ids)."""
        return F.normalize(self.text_projection(self.text.pooled(self.tokenize(captions))),
                           dim=-1)

    def forward(self, images: torch.Tensor, ids: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.encode_image(images), self.encode_text(ids), self.logit_scale()


def warmup_cosine(steps: int, warmup: int, floor: float = 0.1) -> Callable[[int], float]:
    """Learning-rate factor: linear warm-up over ``warmup`` steps, then a cosine from 1 down
    to ``floor`` at ``steps``."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, steps - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    return factor


def adamw(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with weight decay on the weight matrices and convolution kernels only (not on
    biases, norms, positions' scale or the temperature), as CLIP and GPT-2 train."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    rest = [p for p in params if p.ndim < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": rest, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98))


LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def train_clip(model: CLIP, images: torch.Tensor, ids: torch.Tensor, *, steps: int,
               batch_size: int = 256, lr: float = 2e-3, weight_decay: float = 0.05,
               warmup: int = 100, seed: int = 0, loss: LossFn = clip_loss,
               progress: bool | None = None, desc: str = "CLIP") -> History:
    """Contrastive training on pairs (``images[i]``, ``ids[i]``) with ``loss(image_features,
    text_features, logit_scale)`` (default :func:`clip_loss`); records ``loss`` and
    ``logit_scale`` per step and leaves the model in eval mode."""
    steps = check_int(steps, "steps", 0)
    if len(images) != len(ids):
        raise ValueError(f"images and ids need the same length, got {len(images)}, {len(ids)}")

    def loss_fn(xb: torch.Tensor, tb: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        image_features, text_features, scale = model(xb, tb)
        value = loss(image_features, text_features, scale)
        return value, {"logit_scale": scale.item()}

    return fit(model, loss_fn, (images, ids), steps=steps, batch_size=batch_size, seed=seed,
               optimizer=adamw(model, lr, weight_decay),
               lr_schedule=warmup_cosine(steps, min(warmup, max(1, steps // 5))),
               clip_norm=1.0, desc=desc, progress=progress)
