"""Integrity of the chapter-1 data tables (genai_course.data.history)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from genai_course.data.history import (
    EARLY_LLM_SIZES,
    ERAS,
    LLM_SIZES,
    MILESTONES,
    TECH_ROUTES,
    TEXT_TO_IMAGE_SIZES,
    Milestone,
    ModelSize,
    format_params,
    to_markdown,
)

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def _seed_table(first_model: str) -> list[list[str]]:
    """Rows of the Markdown table in seed 004 whose first data row starts with first_model."""
    text = next(SEEDS.glob("004_*.txt")).read_text(encoding="utf-8")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_model} |"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _as_seed_rows(table: tuple[ModelSize, ...]) -> list[list[str]]:
    return [[r.model, str(r.year), r.organisation,
             "-" if r.parameters is None else str(r.parameters),
             "是" if r.open_weights else "否"] for r in table]


@pytest.mark.skipif(not SEEDS.is_dir(), reason="seed tutorials not available")
@pytest.mark.parametrize(("table", "first"), [(LLM_SIZES, "GPT-3"),
                                              (TEXT_TO_IMAGE_SIZES, "DALL.E 2")])
def test_tables_match_the_seed_verbatim(table: tuple[ModelSize, ...], first: str) -> None:
    assert _as_seed_rows(table) == _seed_table(first)


def test_llm_sizes_integrity() -> None:
    assert len(LLM_SIZES) == 16
    by_name = {r.model: r for r in LLM_SIZES}
    assert len(by_name) == 16
    assert by_name["GPT-3"].parameters == 175_000_000_000
    assert by_name["Megatron-Turing NLG"].parameters == 530_000_000_000
    assert by_name["PaLM"].parameters == 540_000_000_000
    assert by_name["GPT-NeoX"].parameters == 20_000_000_000
    assert by_name["BLOOM"].parameters == 175_000_000_000 and "176B" in by_name["BLOOM"].note
    assert by_name["GPT-3.5"].parameters is None and by_name["GPT-4"].parameters is None
    assert sum(r.parameters is None for r in LLM_SIZES) == 2
    assert {r.model for r in LLM_SIZES if r.open_weights} == {
        "GPT-Neo", "GPT-J", "GPT-NeoX", "OPT", "BLOOM", "Flan-T5"}
    for r in LLM_SIZES:
        assert type(r.year) is int and 2020 <= r.year <= 2023
        assert r.parameters is None or (type(r.parameters) is int and r.parameters > 1e9)
    assert [r.year for r in LLM_SIZES] == sorted(r.year for r in LLM_SIZES)


def test_early_sizes_come_from_papers() -> None:
    assert [(r.model, r.year, r.parameters) for r in EARLY_LLM_SIZES] == [
        ("GPT", 2018, 117_000_000), ("BERT-Large", 2018, 340_000_000),
        ("GPT-2", 2019, 1_500_000_000), ("T5", 2019, 11_000_000_000)]
    assert all("original paper" in r.note for r in EARLY_LLM_SIZES)
    assert not {r.model for r in EARLY_LLM_SIZES} & {r.model for r in LLM_SIZES}


def test_text_to_image_sizes() -> None:
    assert {r.model: r.parameters for r in TEXT_TO_IMAGE_SIZES} == {
        "DALL.E 2": 3_500_000_000, "Imagen": 4_600_000_000, "Parti": 20_000_000_000,
        "Stable Diffusion": 890_000_000, "MUSE": 3_000_000_000}
    assert [r.model for r in TEXT_TO_IMAGE_SIZES if r.open_weights] == ["Stable Diffusion"]


KNOWN_YEARS = {
    "VAE": 2013, "GAN": 2014, "Transformer": 2017, "GPT": 2018, "BERT": 2018, "GPT-2": 2019,
    "T5": 2019, "GPT-3": 2020, "DDPM": 2020, "DDIM": 2020, "DALL-E": 2021, "CLIP": 2021,
    "Stable Diffusion": 2022, "ChatGPT": 2022, "GPT-4": 2023, "Claude": 2023, "LLaMA": 2023,
    "PixelRNN/PixelCNN": 2016, "RealNVP": 2016, "ELIZA": 1966,
}


def test_milestone_years_are_the_real_ones() -> None:
    by_name = {m.name: m for m in MILESTONES}
    assert len(by_name) == len(MILESTONES)
    for name, year in KNOWN_YEARS.items():
        assert by_name[name].year == year, name


def test_milestones_are_chronological_and_in_their_era() -> None:
    years = [m.year for m in MILESTONES]
    assert all(isinstance(y, float) for y in years)
    assert years == sorted(years)
    era_index = [ERAS.index(m.era) for m in MILESTONES]
    assert era_index == sorted(era_index)
    assert set(era_index) == {0, 1, 2, 3}
    bounds = {ERAS[0]: (1940, 2009), ERAS[1]: (2010, 2017), ERAS[2]: (2017, 2021),
              ERAS[3]: (2021, 2025)}
    for m in MILESTONES:
        lo, hi = bounds[m.era]
        assert lo <= m.year <= hi, m
        assert m.kind in {"text", "image", "method", "multimodal", "video", "code"}
        assert m.note
    # The seed's list: Markov-chain text, rule-based systems, then each named model.
    names = " ".join(m.name for m in MILESTONES)
    assert "Markov" in names and "Sora" in names and "Make-A-Video" in names


def test_milestone_is_frozen_and_validated() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        MILESTONES[0].year = 2000.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="era"):
        Milestone(2020, "x", "renaissance", "text", "")


def test_tech_routes() -> None:
    assert [r.route for r in TECH_ROUTES] == [
        "Autoregressive language models", "Diffusion models",
        "Generative adversarial networks", "Multimodal fusion models"]
    assert TECH_ROUTES[2].models == ("StyleGAN", "CycleGAN")
    assert all(r.strengths and r.applications and isinstance(r.models, tuple)
               for r in TECH_ROUTES)


def test_format_params() -> None:
    assert [format_params(n) for n in (175_000_000_000, 2_700_000_000, 890_000_000,
                                       117_000_000, 950, None)] == [
        "175B", "2.7B", "890M", "117M", "950", "-"]


def test_to_markdown() -> None:
    rows = [LLM_SIZES[0], LLM_SIZES[13], {"model": "a|b", "year": 1, "parameters": 5,
                                          "open_weights": True}]
    text = to_markdown(rows, ["model", "parameters", "open_weights"],
                       headers=["Model", "Params", "Open"],
                       formatters={"parameters": format_params})
    lines = text.split("\n")
    assert lines[0] == "| Model | Params | Open |"
    assert re.fullmatch(r"\|(---\|){3}", lines[1])
    assert lines[2] == "| GPT-3 | 175B | no |"
    assert lines[3] == "| GPT-3.5 | - | no |"
    assert lines[4] == "| a\\|b | 5 | yes |"
    routes = to_markdown(TECH_ROUTES, ["route", "models"])
    assert "| Diffusion models | Stable Diffusion, DALL-E, Midjourney |" in routes
    assert len(routes.split("\n")) == 2 + len(TECH_ROUTES)
    with pytest.raises(ValueError):
        to_markdown(rows, ["model"], headers=["a", "b"])
    with pytest.raises(ValueError):
        to_markdown(rows, [])
    with pytest.raises(AttributeError):
        to_markdown(TECH_ROUTES, ["parameters"])
