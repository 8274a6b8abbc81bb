"""Data tables for chapter 1 (history of generative AI), transcribed from the seed tutorials.

Sources: ``seeds/000_*.txt`` section 1.1 (milestones, four eras) and 1.3 (four technical
routes); ``seeds/004_*.txt`` (history since the VAE, the LLM-size and text-to-image tables).
Where a seed is vague or disagrees with the original paper, the row's ``note`` says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: The seed's four eras (000 section 1.1), in chronological order.
ERAS = (
    "early (1950s-2000s)",
    "deep generative (2010-2017)",
    "large language models (2017-2021)",
    "multimodal (2021-)",
)
_EARLY, _DEEP, _LLM, _MULTI = ERAS


@dataclass(frozen=True)
class Milestone:
    """One timeline event.

    ``year`` is the year of first public release (preprint or announcement); events of
    the same year are listed in release order. ``era`` is the seed period (one of
    :data:`ERAS`) the date falls in, so DDPM (2020) is in the LLM era, and
    ``kind`` the modality or family ("text", "image", "method", "multimodal", "video",
    "code").
    """

    year: float
    name: str
    era: str
    kind: str
    note: str

    def __post_init__(self) -> None:
        if self.era not in ERAS:
            raise ValueError(f"era must be one of {ERAS}, got {self.era!r}")
        object.__setattr__(self, "year", float(self.year))


MILESTONES: tuple[Milestone, ...] = (
    Milestone(1948, "Shannon's Markov-chain text", _EARLY, "text",
              "Shannon's 'A Mathematical Theory of Communication' generates English from "
              "n-gram (Markov-chain) statistics; the seed dates Markov-chain text to the 1950s."),
    Milestone(1966, "ELIZA", _EARLY, "text",
              "Weizenbaum's pattern-matching chatbot: the seed's 'rule-based content "
              "generation systems'."),
    Milestone(1966, "Hidden Markov models", _EARLY, "method",
              "Baum & Petrie 1966: a simple stochastic-process model (seed: 'simple "
              "random-process generative models')."),
    Milestone(1977, "EM for mixture models", _EARLY, "method",
              "Dempster, Laird & Rubin 1977: maximum-likelihood fitting of latent-variable "
              "models such as Gaussian mixtures."),
    Milestone(1985, "Boltzmann machine", _EARLY, "method",
              "Ackley, Hinton & Sejnowski 1985: an energy-based generative neural network."),
    Milestone(2006, "Deep belief networks", _EARLY, "method",
              "Hinton, Osindero & Teh 2006: layer-wise generative pre-training."),
    Milestone(2013, "VAE", _DEEP, "method",
              "Kingma & Welling, arXiv December 2013 (seed 004); seed 000 lists VAEs under "
              "2015 as 'mature applications'."),
    Milestone(2014, "GAN", _DEEP, "method", "Goodfellow et al. 2014 (both seeds)."),
    Milestone(2015, "Diffusion (nonequilibrium)", _DEEP, "method",
              "Sohl-Dickstein et al. 2015: the first diffusion probabilistic model; not named "
              "in the seeds, added as the origin of DDPM."),
    Milestone(2015, "Neural style transfer", _DEEP, "image",
              "Gatys et al., arXiv 2015 (CVPR 2016); seed 000 dates conditional generation "
              "and style transfer 2016-2017."),
    Milestone(2015, "DCGAN", _DEEP, "image", "Radford et al. 2015 (seed 004)."),
    Milestone(2016, "PixelRNN/PixelCNN", _DEEP, "image",
              "van den Oord et al. 2016: autoregressive image models (seed 004)."),
    Milestone(2016, "RealNVP", _DEEP, "method",
              "Dinh et al. 2016 (ICLR 2017): normalising flow with exact likelihood (seed 004)."),
    Milestone(2016, "pix2pix", _DEEP, "image",
              "Isola et al., arXiv 2016 (CVPR 2017): conditional GAN image translation."),
    Milestone(2017, "WGAN", _DEEP, "method", "Arjovsky et al. 2017 (seed 004)."),
    Milestone(2017, "CycleGAN", _DEEP, "image",
              "Zhu et al. 2017: unpaired image translation, style transfer (seed 004)."),
    Milestone(2017, "Transformer", _LLM, "method",
              "Vaswani et al., 'Attention Is All You Need', June 2017 (both seeds)."),
    Milestone(2018, "GPT", _LLM, "text", "Radford et al. 2018: decoder-only Transformer."),
    Milestone(2018, "BERT", _LLM, "text",
              "Devlin et al. 2018: encoder-only, masked language model (both seeds)."),
    Milestone(2018, "StyleGAN", _LLM, "image",
              "Karras et al., arXiv December 2018: style-based generator (seed 004)."),
    Milestone(2019, "GPT-2", _LLM, "text", "Radford et al. 2019: 1.5B parameters."),
    Milestone(2019, "Score-based models", _LLM, "method",
              "Song & Ermon 2019: score matching with Langevin sampling (seed 004)."),
    Milestone(2019, "T5", _LLM, "text", "Raffel et al. 2019: text-to-text Transformer."),
    Milestone(2020, "GPT-3", _LLM, "text", "Brown et al. 2020: 175B parameters (both seeds)."),
    Milestone(2020, "DDPM", _LLM, "method", "Ho, Jain & Abbeel 2020 (seed 004)."),
    Milestone(2020, "DDIM", _LLM, "method",
              "Song, Meng & Ermon 2020: fast deterministic sampling (seed 004)."),
    Milestone(2021, "DALL-E", _MULTI, "multimodal",
              "OpenAI, January 2021: discrete VAE + Transformer text-to-image (seed 004)."),
    Milestone(2021, "CLIP", _MULTI, "multimodal",
              "Radford et al., January 2021: contrastive image-text model (seed 004)."),
    Milestone(2021, "Codex", _MULTI, "code",
              "Chen et al., July 2021: GPT fine-tuned on code, behind GitHub Copilot (seed 004)."),
    Milestone(2021, "Latent diffusion", _MULTI, "method",
              "Rombach et al., arXiv December 2021 (CVPR 2022): the Stable Diffusion recipe."),
    Milestone(2022, "DALL-E 2", _MULTI, "multimodal",
              "Ramesh et al., April 2022: CLIP latents + diffusion decoder (seed 004)."),
    Milestone(2022, "Stable Diffusion", _MULTI, "multimodal",
              "Public release August 2022; seed 000 lists it under 2021 (its latent-diffusion "
              "paper is from December 2021)."),
    Milestone(2022, "Make-A-Video", _MULTI, "video",
              "Meta, September 2022: text-to-video (seed 004)."),
    Milestone(2022, "ChatGPT", _MULTI, "text", "OpenAI, 30 November 2022 (both seeds)."),
    Milestone(2023, "LLaMA", _MULTI, "text",
              "Meta, February 2023: 7B-65B parameters trained on public data (seed 004)."),
    Milestone(2023, "GPT-4", _MULTI, "multimodal",
              "OpenAI, March 2023: accepts image and text input (seed 000)."),
    Milestone(2023, "Claude", _MULTI, "text",
              "Anthropic, March 2023; seed 000 groups it with multimodal models, but image "
              "input arrived with Claude 3 (2024)."),
    Milestone(2023, "Runway Gen-2", _MULTI, "video",
              "Runway, 2023: text-to-video; the seed's '2023-2024 rapid progress in "
              "text-to-video'."),
    Milestone(2024, "Sora", _MULTI, "video",
              "OpenAI, February 2024: minute-long text-to-video (seed 000's 2023-2024 trend)."),
)


@dataclass(frozen=True)
class ModelSize:
    """A row of the seeds' model tables; ``parameters`` is None where the seed says "-"."""

    model: str
    year: int
    organisation: str
    parameters: int | None
    open_weights: bool
    note: str = ""


def _row(model: str, year: int, org: str, params: float | None, open_: bool,
         note: str = "") -> ModelSize:
    return ModelSize(model, year, org, None if params is None else int(params), open_, note)


#: Seed 004's table of large language models (largest model of each family), verbatim.
LLM_SIZES: tuple[ModelSize, ...] = (
    _row("GPT-3", 2020, "OpenAI", 175e9, False),
    _row("GPT-Neo", 2021, "EleutherAI", 2.7e9, True),
    _row("GPT-J", 2021, "EleutherAI", 6e9, True),
    _row("Megatron-Turing NLG", 2021, "Microsoft & NVIDIA", 530e9, False),
    _row("Gopher", 2021, "DeepMind", 280e9, False),
    _row("LaMDA", 2022, "Google", 137e9, False),
    _row("GPT-NeoX", 2022, "EleutherAI", 20e9, True),
    _row("Chinchilla", 2022, "DeepMind", 70e9, False),
    _row("PaLM", 2022, "Google", 540e9, False),
    _row("Luminous", 2022, "Aleph Alpha", 70e9, False),
    _row("OPT", 2022, "Meta", 175e9, True),
    _row("BLOOM", 2022, "Hugging Face Collaboration", 175e9, True,
         "The seed says 175B; the BLOOM paper reports 176B."),
    _row("Flan-T5", 2022, "Google", 11e9, True),
    _row("GPT-3.5", 2022, "OpenAI", None, False, "Size not disclosed."),
    _row("LLaMA", 2023, "Meta", 65e9, False,
         "The seed says not open; the weights were released to researchers under a "
         "non-commercial licence."),
    _row("GPT-4", 2023, "OpenAI", None, False, "Size not disclosed."),
)

_PAPERS = "From the original paper, not from the seed table."

#: Models named in seed 004's history whose sizes its table lacks.
EARLY_LLM_SIZES: tuple[ModelSize, ...] = (
    _row("GPT", 2018, "OpenAI", 117e6, True,
         _PAPERS + " 117M is the GPT-2 paper's size for its GPT-sized model."),
    _row("BERT-Large", 2018, "Google", 340e6, True, _PAPERS),
    _row("GPT-2", 2019, "OpenAI", 1.5e9, True, _PAPERS + " 1542M exactly."),
    _row("T5", 2019, "Google", 11e9, True, _PAPERS),
)

#: Seed 004's table of text-to-image models, verbatim.
TEXT_TO_IMAGE_SIZES: tuple[ModelSize, ...] = (
    _row("DALL.E 2", 2022, "OpenAI", 3.5e9, False, "3.5B is the diffusion decoder."),
    _row("Imagen", 2022, "Google", 4.6e9, False),
    _row("Parti", 2022, "Google", 20e9, False),
    _row("Stable Diffusion", 2022, "Stability AI, ComVis, and Runway", 0.89e9, True,
         "The v1 model card lists an 860M U-Net and a 123M text encoder."),
    _row("MUSE", 2023, "Google", 3e9, False),
)


@dataclass(frozen=True)
class TechRoute:
    """A row of seed 000's table 1.3, "main technical routes of generative AI"."""

    route: str
    models: tuple[str, ...]
    strengths: str
    applications: str


#: Seed 000 section 1.3, translated. (The seed lists DALL-E under diffusion: true of
#: DALL-E 2; the original DALL-E used a discrete VAE and a Transformer.)
TECH_ROUTES: tuple[TechRoute, ...] = (
    TechRoute("Autoregressive language models", ("GPT series", "LLaMA", "Claude"),
              "Coherent long-form text, strong understanding of context",
              "Dialogue systems, writing assistants, code generation"),
    TechRoute("Diffusion models", ("Stable Diffusion", "DALL-E", "Midjourney"),
              "High-quality image generation, precise control",
              "Art creation, design assistance, image editing"),
    TechRoute("Generative adversarial networks", ("StyleGAN", "CycleGAN"),
              "Realistic detail, strong style transfer",
              "Face generation, style conversion, image enhancement"),
    TechRoute("Multimodal fusion models", ("CLIP", "Flamingo", "GPT-4V"),
              "Cross-modal understanding and generation",
              "Image-text understanding, visual question answering, multimodal creation"),
)


def format_params(n: int | None) -> str:
    """Human-readable parameter count: ``175000000000 -> "175B"``, ``None -> "-"``."""
    if n is None:
        return "-"
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= size:
            return f"{n / size:.3g}{suffix}"
    return str(n)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple | list):
        value = ", ".join(map(str, value))
    return str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(
    rows: Sequence[Any],
    columns: Sequence[str],
    headers: Sequence[str] | None = None,
    formatters: Mapping[str, Callable[[Any], str]] | None = None,
) -> str:
    """A Markdown table of ``columns`` (attribute names, or keys of mapping rows).

    ``None`` shows as "-", booleans as yes/no, tuples joined by commas; ``formatters``
    maps a column to a function of its value, e.g. ``{"parameters": format_params}``.
    Display it in a notebook with ``IPython.display.Markdown``.
    """
    if not columns:
        raise ValueError("columns must name at least one column")
    headers = list(columns) if headers is None else list(headers)
    if len(headers) != len(columns):
        raise ValueError(f"{len(headers)} headers for {len(columns)} columns")
    formatters = dict(formatters or {})

    def get(row: Any, column: str) -> Any:
        return row[column] if isinstance(row, Mapping) else getattr(row, column)

    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |",
             "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for column in columns:
            value = get(row, column)
            cells.append(_cell(formatters[column](value) if column in formatters else value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
