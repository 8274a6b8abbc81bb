"""Melodies: a corpus made here, their statistics, and a synthesiser to hear them.

A melody is a list of notes ``(pitch, duration)``: ``pitch`` a MIDI note number (60 is
middle C) or ``None`` for a rest, ``duration`` in sixteenth notes (4 is a quarter note).

* :func:`folk_melodies` -- the corpus: four-bar tunes in 4/4 in a random major key, written
  by rules that folk tunes roughly follow (mostly steps along the scale, some leaps, phrases
  starting on a chord tone and ending on the tonic with a long note);
* :func:`random_melodies` -- the baseline: random pitches in the same range and random
  durations from the same set;
* :data:`KNOWN_MELODIES` -- a few public-domain tunes, transcribed for the tests;
* statistics (Krumhansl 1990 uses duration-weighted pitch-class profiles to find keys):
  :func:`pitch_class_histogram`, :func:`in_scale_rate` (the share of the melody's duration
  in the best-fitting major scale), :func:`interval_histogram`, and
  :func:`melody_report` against a corpus;
* :func:`synthesize` -- a waveform (additive synthesis with a decaying envelope) for
  ``IPython.display.Audio``.

As token sequences (:mod:`~genai_course.applications.sequences`) a note is two symbols,
``p60`` (or ``rest``) and ``d4``, as in the event representation of Music Transformer
(Huang et al. 2018), which also has time-shift and velocity events that we do not need.

Used in: chapter 9.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from genai_course.applications.sequences import Vocabulary
from genai_course.core.checks import check_int, check_number

Note = tuple[int | None, int]
Melody = list[Note]

MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)  # the major scale's pitch classes above the tonic
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
LOW, HIGH = 55, 84  # the corpus's pitch range (G3 .. C6)
DURATIONS = (2, 4, 6, 8)  # eighth, quarter, dotted quarter, half
BAR = 16  # sixteenths in a bar of 4/4
#: One-bar rhythms (durations adding up to a bar) the corpus is written with.
RHYTHMS = ((4, 4, 4, 4), (4, 4, 8), (2, 2, 4, 4, 4), (6, 2, 4, 4), (4, 2, 2, 8),
           (8, 4, 4), (2, 2, 2, 2, 4, 4), (4, 4, 2, 2, 4))
INTERVAL_BINS = 13  # |interval| of 0..11 semitones, and 12 or more


def folk_melodies(n: int, seed: int = 0, bars: int = 4) -> list[Melody]:
    """``n`` tunes of ``bars`` bars (see the module docstring); reproducible from ``seed``."""
    rng = random.Random(seed)
    return [_folk_melody(rng, bars) for _ in range(check_int(n, "n"))]


def _folk_melody(rng: random.Random, bars: int) -> Melody:
    tonic = rng.randrange(60, 72)  # C4 .. B4
    scale = [tonic + 12 * octave + step for octave in (-1, 0, 1) for step in MAJOR_STEPS]
    scale = [p for p in scale if LOW <= p <= HIGH]
    home = scale.index(tonic)
    degree = home + rng.choice((0, 2, 4))  # start on the tonic, the third or the fifth
    rhythm = [d for bar in range(bars) for d in (
        rng.choice(RHYTHMS) if bar < bars - 1 else (4, 4, 8))]
    notes: Melody = []
    for i, duration in enumerate(rhythm):
        if i == len(rhythm) - 1:
            degree = home  # end on the tonic
        elif i:
            move = rng.choices((-1, 1, -2, 2, 0, -3, 3, -4, 4, 7, -7),
                               (22, 22, 10, 10, 10, 5, 5, 4, 4, 4, 4))[0]
            degree = min(max(degree + move, 0), len(scale) - 1)
        notes.append((scale[degree], duration))
    return notes


def random_melodies(n: int, seed: int = 0, lengths: Sequence[int] = (14, 16, 18)
                    ) -> list[Melody]:
    """The baseline: ``n`` melodies of random length from ``lengths``, each note a uniform
    pitch in ``LOW..HIGH`` and a uniform duration from :data:`DURATIONS`."""
    rng = random.Random(seed)
    return [[(rng.randint(LOW, HIGH), rng.choice(DURATIONS))
             for _ in range(rng.choice(lengths))] for _ in range(check_int(n, "n"))]


def _mel(text: str) -> Melody:
    """``"C4:4 D4:2 -:4"`` -> notes (``-`` is a rest)."""
    out: Melody = []
    for item in text.split():
        name, duration = item.split(":")
        if name == "-":
            out.append((None, int(duration)))
            continue
        pitch_class = NOTE_NAMES.index(name[:-1])
        out.append((12 * (int(name[-1]) + 1) + pitch_class, int(duration)))
    return out


#: Public-domain tunes (traditional, or Beethoven 1824), first phrases, for the tests.
KNOWN_MELODIES: dict[str, Melody] = {
    "twinkle twinkle little star": _mel(
        "C4:4 C4:4 G4:4 G4:4 A4:4 A4:4 G4:8 F4:4 F4:4 E4:4 E4:4 D4:4 D4:4 C4:8"),
    "ode to joy": _mel(
        "E4:4 E4:4 F4:4 G4:4 G4:4 F4:4 E4:4 D4:4 C4:4 C4:4 D4:4 E4:4 E4:6 D4:2 D4:8"),
    "frere jacques": _mel("G4:4 A4:4 B4:4 G4:4 G4:4 A4:4 B4:4 G4:4 B4:4 C5:4 D5:8"),
}


# ------------------------------------------------------------------ statistics


def _check_melody(melody: Sequence[Note]) -> None:
    if not melody:
        raise ValueError("melody is empty")
    for pitch, duration in melody:
        if (pitch is not None and not 0 <= pitch <= 127) or duration < 1:
            raise ValueError(f"bad note ({pitch!r}, {duration!r}): need a MIDI pitch in "
                             "0..127 or None, and a duration >= 1")


def pitch_class_histogram(melody: Sequence[Note]) -> np.ndarray:
    """The share of the melody's sounding time spent on each pitch class C, C#, ..., B
    (12 floats summing to 1; rests are left out)."""
    _check_melody(melody)
    hist = np.zeros(12)
    for pitch, duration in melody:
        if pitch is not None:
            hist[pitch % 12] += duration
    if hist.sum() == 0:
        raise ValueError("melody has no sounding note")
    return hist / hist.sum()


def histogram_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance ``0.5 * sum |p - q|`` (0 = same, 1 = disjoint)."""
    return float(0.5 * np.abs(np.asarray(p, float) - np.asarray(q, float)).sum())


def in_scale_rate(melody: Sequence[Note]) -> float:
    """The largest share of sounding time inside one major scale (over the 12 keys)."""
    hist = pitch_class_histogram(melody)
    return float(max(hist[[(key + s) % 12 for s in MAJOR_STEPS]].sum() for key in range(12)))


def best_key(melody: Sequence[Note]) -> int:
    """The tonic pitch class of the major scale that :func:`in_scale_rate` picks; among
    scales that fit equally well (a tune without a B fits both C and F major) the one whose
    tonic triad (tonic, major third, fifth) sounds longest."""
    hist = pitch_class_histogram(melody)
    scores = [(round(float(hist[[(key + s) % 12 for s in MAJOR_STEPS]].sum()), 9),
               float(hist[key] + hist[(key + 4) % 12] + hist[(key + 7) % 12]), -key)
              for key in range(12)]
    return -max(scores)[2]


def interval_histogram(melody: Sequence[Note]) -> np.ndarray:
    """The distribution of ``|interval|`` in semitones between consecutive sounding notes
    (bins 0..11, and 12 for an octave or more); zeros for fewer than two notes."""
    _check_melody(melody)
    pitches = [p for p, _ in melody if p is not None]
    hist = np.zeros(INTERVAL_BINS)
    for a, b in zip(pitches, pitches[1:], strict=False):
        hist[min(abs(b - a), INTERVAL_BINS - 1)] += 1
    return hist / hist.sum() if hist.sum() else hist


def corpus_histograms(melodies: Sequence[Sequence[Note]]) -> tuple[np.ndarray, np.ndarray]:
    """The corpus's pitch-class histogram **relative to each melody's key** (index 0 is the
    tonic: transposition-invariant) and its interval histogram, pooled over melodies."""
    pcs, intervals = np.zeros(12), np.zeros(INTERVAL_BINS)
    for melody in melodies:
        pcs += np.roll(pitch_class_histogram(melody), -best_key(melody))
        intervals += interval_histogram(melody)
    return pcs / len(melodies), intervals / intervals.sum()


def melody_report(melodies: Sequence[Sequence[Note]], corpus: Sequence[Sequence[Note]]
                  ) -> dict[str, float]:
    """``in_scale`` (mean :func:`in_scale_rate`), ``pitch_distance`` and
    ``interval_distance`` (total variation between the key-relative pitch-class histograms
    and between the interval histograms of ``melodies`` and ``corpus``), ``step_share``
    (consecutive notes at most 2 semitones apart) and ``ends_on_tonic``."""
    valid = [m for m in melodies if m and any(p is not None for p, _ in m)]
    if not valid:
        raise ValueError("no melody with a sounding note")
    pcs, intervals = corpus_histograms(valid)
    ref_pcs, ref_intervals = corpus_histograms(corpus)
    last = [next(p for p, _ in reversed(m) if p is not None) for m in valid]
    return {
        "in_scale": float(np.mean([in_scale_rate(m) for m in valid])),
        "pitch_distance": histogram_distance(pcs, ref_pcs),
        "interval_distance": histogram_distance(intervals, ref_intervals),
        "step_share": float(intervals[:3].sum()),
        "ends_on_tonic": float(np.mean([p % 12 == best_key(m) for p, m in zip(last, valid,
                                                                               strict=True)])),
    }


# ------------------------------------------------------------------ as token sequences

MELODY_VOCAB = Vocabulary([f"p{p}" for p in range(LOW, HIGH + 1)] + ["rest"]
                          + [f"d{d}" for d in range(1, 17)])


def melody_to_symbols(melody: Sequence[Note]) -> list[str]:
    """``[(60, 4), (None, 2)]`` -> ``["p60", "d4", "rest", "d2"]``."""
    return [s for pitch, duration in melody
            for s in ("rest" if pitch is None else f"p{pitch}", f"d{duration}")]


def symbols_to_melody(symbols: Sequence[str]) -> Melody:
    """The inverse of :func:`melody_to_symbols`; symbols out of pitch-duration order are
    skipped (a model may emit them)."""
    notes: Melody = []
    pitch: int | None | str = "none yet"
    for s in symbols:
        if s == "rest" or s.startswith("p"):
            pitch = None if s == "rest" else int(s[1:])
        elif s.startswith("d") and pitch != "none yet":
            notes.append((pitch, int(s[1:])))  # type: ignore[arg-type]
            pitch = "none yet"
    return notes


# ------------------------------------------------------------------ sound


def synthesize(melody: Sequence[Note], tempo: float = 100.0, sample_rate: int = 16000
               ) -> np.ndarray:
    """A float32 waveform in [-1, 1]: each note a fundamental with two quieter harmonics
    under a short attack and an exponential decay, ``tempo`` quarter notes per minute."""
    _check_melody(melody)
    tempo = check_number(tempo, "tempo", positive=True)
    sixteenth = 60.0 / tempo / 4
    parts = []
    for pitch, duration in melody:
        n = int(round(duration * sixteenth * sample_rate))
        t = np.arange(n) / sample_rate
        if pitch is None:
            parts.append(np.zeros(n))
            continue
        freq = 440.0 * 2 ** ((pitch - 69) / 12)
        tone = sum(a * np.sin(2 * np.pi * k * freq * t) for k, a in ((1, 1.0), (2, 0.4),
                                                                     (3, 0.2)))
        envelope = np.minimum(1.0, t / 0.01) * np.exp(-3.0 * t)
        envelope[-min(n, int(0.01 * sample_rate)):] *= np.linspace(1, 0, min(n, int(
            0.01 * sample_rate)))
        parts.append(tone * envelope)
    wave = np.concatenate(parts)
    return (0.9 * wave / max(np.abs(wave).max(), 1e-9)).astype(np.float32)
