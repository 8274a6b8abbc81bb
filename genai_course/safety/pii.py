"""Scrubbing personal data (PII) from text with patterns and checksums, and measuring it.

* :func:`luhn_valid` -- the Luhn mod-10 checksum of payment card numbers (ISO/IEC 7812-1,
  annex B): from the rightmost digit, double every second digit, subtract 9 from doubles
  above 9, and the sum must be a multiple of 10.
* :func:`iban_valid` -- the IBAN mod-97 check (ISO 13616, ISO 7064 MOD 97-10): move the
  first four characters to the end, replace letters by 10..35, and the number must leave
  remainder 1 when divided by 97; the length must be the country's.
* :func:`find_pii` / :func:`scrub_pii` -- e-mail addresses, phone numbers, card numbers that
  pass Luhn, IBANs that pass mod-97 and IPv4 addresses, replaced by ``[EMAIL]``,
  ``[PHONE]``, ``[CARD]``, ``[IBAN]``, ``[IP]``. Look-alikes that fail their checksum stay.
* :func:`pii_corpus` -- generated documents with planted PII at known positions (all of it
  fictional: reserved example domains, 555-01xx and Ofcom drama numbers, RFC 5737 addresses),
  plus look-alikes and names and street addresses, which no pattern finds;
  :func:`pii_scores` gives precision and recall per type.

Patterns find what has a *shape*; names and addresses have none, which is why production
scrubbers (Microsoft Presidio, spaCy pipelines) add named-entity recognition.

Used in: chapter 10.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

#: The types :func:`scrub_pii` replaces, in the order they claim overlapping text.
KINDS = ("EMAIL", "IBAN", "CARD", "IP", "PHONE")
#: Planted in :func:`pii_corpus` but beyond patterns: they need named-entity recognition.
NER_KINDS = ("NAME", "ADDRESS")

#: IBAN lengths of some countries (SWIFT's IBAN registry); other countries: 15 to 34.
IBAN_LENGTHS = {"AT": 20, "BE": 16, "CH": 21, "DE": 22, "DK": 18, "ES": 24, "FI": 18,
                "FR": 27, "GB": 22, "IE": 22, "IT": 27, "NL": 18, "NO": 15, "PL": 28,
                "PT": 25, "SE": 24}

_SEPARATORS = re.compile(r"[ -]")

_PATTERNS = {
    "EMAIL": re.compile(
        r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@"
        r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}(?![\w-])"),
    # compact, or in groups of four separated by single spaces
    "IBAN": re.compile(r"\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}"
                       r"(?: [A-Z0-9]{1,3})?)\b"),
    # 13 to 19 digits, single spaces or hyphens allowed between them
    "CARD": re.compile(r"(?<![\w-])(?<!\d )(?:\d[ -]?){12,18}\d(?!\w)(?![ -]\d)"),
    "IP": re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
                     r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\w)(?!\.\d)"),
    # optional +country code, an area code (maybe in parentheses), 6 to 8 more digits
    "PHONE": re.compile(r"(?<![\w+)])(?<!\d[ .-])(?:\+\d{1,3}[ .-]?)?"
                        r"(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]?\d{3,4}"
                        r"(?!\w)(?![ .-]\d)"),
}


class PiiSpan(NamedTuple):
    """``text[start:end]`` is PII of type ``kind``."""

    kind: str
    start: int
    end: int


def _digits(number: object, name: str) -> str:
    if not isinstance(number, str):
        raise TypeError(f"{name} must be a str, got {type(number).__name__}")
    digits = _SEPARATORS.sub("", number)
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"{name} may hold only digits, spaces and hyphens, got {number!r}")
    if len(digits) < 2:
        raise ValueError(f"{name} needs at least 2 digits, got {number!r}")
    return digits


def luhn_valid(number: str) -> bool:
    """Whether the digits of ``number`` (spaces and hyphens are ignored) pass the Luhn
    checksum: doubling every second digit from the right (and subtracting 9 from a double
    above 9), the digits sum to a multiple of 10. ``TypeError`` for a non-string,
    ``ValueError`` for other characters or fewer than 2 digits."""
    digits = _digits(number, "number")
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_complete(payload: str) -> str:
    """``payload`` with the check digit appended that makes it pass :func:`luhn_valid`."""
    return next(payload + d for d in "0123456789" if luhn_valid(payload + d))


def _iban_number(compact: str) -> int:
    """The integer of ISO 7064 MOD 97-10: the first four characters moved to the end and
    every letter replaced by its value 10..35."""
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged))


def iban_valid(iban: str) -> bool:
    """Whether ``iban`` (spaces ignored, upper case) is a well-formed IBAN: two letters,
    two check digits, the country's length (:data:`IBAN_LENGTHS`, else 15 to 34
    characters) and remainder 1 in the mod-97 check. National check digits inside the
    account number (Belgium's, Spain's, ...) are not checked."""
    if not isinstance(iban, str):
        raise TypeError(f"iban must be a str, got {type(iban).__name__}")
    compact = iban.replace(" ", "")
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", compact):
        return False
    length = IBAN_LENGTHS.get(compact[:2])
    if (len(compact) != length) if length else not 15 <= len(compact) <= 34:
        return False
    return _iban_number(compact) % 97 == 1


def iban_with_check_digits(country: str, bban: str) -> str:
    """The compact IBAN of a domestic account number ``bban``: check digits
    ``98 - (number with "00" as check digits) mod 97``."""
    check = 98 - _iban_number(country + "00" + bban) % 97
    return f"{country}{check:02d}{bban}"


def find_pii(text: str, *, luhn: Callable[[str], bool] = luhn_valid) -> list[PiiSpan]:
    """Non-overlapping PII spans of ``text``, sorted by position. Types claim text in the
    order of :data:`KINDS`; a card candidate counts only if ``luhn`` accepts it (13 to 19
    digits) and an IBAN only if :func:`iban_valid` does."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    taken: list[PiiSpan] = []
    for kind in KINDS:
        for match in _PATTERNS[kind].finditer(text):
            span = PiiSpan(kind, match.start(), match.end())
            if any(s.start < span.end and span.start < s.end for s in taken):
                continue
            value = match.group()
            if kind == "CARD" and not (13 <= len(_SEPARATORS.sub("", value)) <= 19
                                       and luhn(value)):
                continue
            if kind == "IBAN" and not iban_valid(value):
                continue
            taken.append(span)
    return sorted(taken, key=lambda s: s.start)


def scrub_pii(text: str, *, luhn: Callable[[str], bool] = luhn_valid) -> str:
    """``text`` with each span of :func:`find_pii` replaced by ``[KIND]``."""
    out, last = [], 0
    for span in find_pii(text, luhn=luhn):
        out += [text[last:span.start], f"[{span.kind}]"]
        last = span.end
    return "".join(out) + text[last:]


# --- a generated corpus with planted PII ------------------------------------------------------

_FIRST = ("Ana", "Bilal", "Chen", "Dara", "Eitan", "Fatima", "Goran", "Hana", "Ivan", "Jia",
          "Kwame", "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tomoko")
_LAST = ("Okafor", "Novak", "Lindqvist", "Haddad", "Moreau", "Tanaka", "Silva", "Kowalski",
         "Byrne", "Castillo", "Nakamura", "Petrov", "Mensah", "Fischer", "Kaur", "Dubois")
_STREETS = ("Mill Lane", "Harbour Road", "Linden Street", "Station Road", "Elm Avenue",
            "Canal Street", "Orchard Way", "King's Parade")
_CITIES = ("Northbridge", "Eastholm", "Westmere", "Southport", "Riverton", "Lakeside")
_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
#: Digits of a domestic account number (GB and NL ones also start with a four-letter bank code).
_BANKS = {"DE": 18, "GB": 14, "FR": 23, "NL": 10}


@dataclass
class PiiDocument:
    """A generated text and the PII planted in it (look-alikes are not in ``spans``)."""

    text: str
    spans: list[PiiSpan] = field(default_factory=list)


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[PiiSpan] = []
        self.length = 0

    def add(self, text: str, kind: str | None = None) -> None:
        if kind is not None:
            self.spans.append(PiiSpan(kind, self.length, self.length + len(text)))
        self.parts.append(text)
        self.length += len(text)

    def document(self) -> PiiDocument:
        return PiiDocument("".join(self.parts), self.spans)


def _name(rng: random.Random) -> tuple[str, str]:
    return rng.choice(_FIRST), rng.choice(_LAST)


def _email(rng: random.Random, first: str, last: str) -> str:
    user = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}",
                       f"{last}+news"]).lower()
    return f"{user}@{rng.choice(_DOMAINS)}"


def _phone(rng: random.Random) -> str:
    n = rng.randint(100, 199)  # 555-0100..0199 (NANP) and 020 7946 0xxx (Ofcom) are fictional
    return rng.choice([f"(415) 555-0{n}", f"415-555-0{n}", f"+1 415 555 0{n}",
                       f"415.555.0{n}", f"+44 20 7946 0{n}", f"020 7946 0{n}"])


def _card(rng: random.Random, valid: bool = True) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16)])
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    number = luhn_complete(body)
    if not valid:  # change the check digit: fails Luhn
        number = number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)
    if length == 15:
        return f"{number[:4]} {number[4:10]} {number[10:]}"
    sep = rng.choice([" ", "-", ""])
    return sep.join(number[i:i + 4] for i in range(0, 16, 4))


def _iban(rng: random.Random, valid: bool = True) -> str:
    country = rng.choice(sorted(_BANKS))
    digits = "".join(rng.choice("0123456789") for _ in range(_BANKS[country]))
    bban = {"GB": "WEST" + digits, "NL": "ABNA" + digits}.get(country, digits)
    compact = iban_with_check_digits(country, bban)
    if not valid:
        compact = compact[:2] + f"{(int(compact[2:4]) + rng.randint(1, 50)) % 97 + 2:02d}" \
            + compact[4:]
        if iban_valid(compact):  # the new check digits happened to fit: change them again
            compact = compact[:2] + f"{(int(compact[2:4]) % 97) + 1:02d}" + compact[4:]
    if rng.random() < 0.5:
        return compact
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def _ip(rng: random.Random) -> str:
    net = rng.choice(["192.0.2", "198.51.100", "203.0.113", "10.12.7"])
    return f"{net}.{rng.randint(1, 254)}"


def _address(rng: random.Random) -> str:
    return f"{rng.randint(2, 180)} {rng.choice(_STREETS)}, {rng.choice(_CITIES)}"


def _pii_document(rng: random.Random) -> PiiDocument:
    doc = _Builder()
    first, last = _name(rng)
    choice = rng.randrange(9)
    if choice == 0:
        doc.add("Please contact ")
        doc.add(f"{first} {last}", "NAME")
        doc.add(" at ")
        doc.add(_email(rng, first, last), "EMAIL")
        doc.add(" or call ")
        doc.add(_phone(rng), "PHONE")
        doc.add(".")
    elif choice == 1:
        doc.add("Refund the order to card ")
        doc.add(_card(rng), "CARD")
        doc.add(f" (order number {_card(rng, valid=False).replace(' ', '')}).")
    elif choice == 2:
        doc.add("Wire the deposit to ")
        doc.add(_iban(rng), "IBAN")
        doc.add(f", not to the old account {_iban(rng, valid=False)}.")
    elif choice == 3:
        doc.add("A login from ")
        doc.add(_ip(rng), "IP")
        doc.add(f" used client version {rng.randint(2, 9)}.{rng.randint(0, 30)}."
                f"{rng.randint(256, 999)}.{rng.randint(0, 9)}.")
    elif choice == 4:
        doc.add("Ship it to ")
        doc.add(f"{first} {last}", "NAME")
        doc.add(", ")
        doc.add(_address(rng), "ADDRESS")
        doc.add(f", before {rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.2024.")
    elif choice == 5:  # a serial number shaped like a phone number: a false positive
        doc.add(f"Ticket {rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}-"
                f"{rng.randint(1000, 9999)} was closed by ")
        doc.add(f"{first} {last}", "NAME")
        doc.add(".")
    elif choice == 6:  # written-out e-mail and a trunk-prefix phone: misses
        doc.add("Reach me at ")
        doc.add(f"{first.lower()} at example dot org", "EMAIL")
        doc.add(" or ")
        doc.add(f"+44 (0)20 7946 0{rng.randint(100, 199)}", "PHONE")
        doc.add(".")
    elif choice == 7:
        doc.add("Server ")
        doc.add(_ip(rng), "IP")
        doc.add(" forwarded mail from ")
        doc.add(_email(rng, first, last), "EMAIL")
        doc.add(".")
    else:
        doc.add("Card ")
        doc.add(_card(rng), "CARD")
        doc.add(" belongs to ")
        doc.add(f"{first} {last}", "NAME")
        doc.add("; call ")
        doc.add(_phone(rng), "PHONE")
        doc.add(" if it is lost.")
    return doc.document()


def pii_corpus(n_documents: int, seed: int = 0) -> list[PiiDocument]:
    """``n_documents`` generated one- or two-sentence documents with planted PII (every kind
    of :data:`KINDS` and :data:`NER_KINDS`), look-alikes that fail their checksum (order
    numbers, old IBANs, version strings), formats the patterns miss (``name at example dot
    org``, ``+44 (0)20 ...``) and a serial number shaped like a phone number."""
    if isinstance(n_documents, bool) or not isinstance(n_documents, int) or n_documents < 1:
        raise ValueError(f"n_documents must be a positive int, got {n_documents!r}")
    rng = random.Random(f"pii-{seed}")
    return [_pii_document(rng) for _ in range(n_documents)]


def pii_scores(documents: Sequence[PiiDocument],
               find: Callable[[str], list[PiiSpan]] = find_pii) -> dict[str, dict[str, float]]:
    """Precision and recall per type of the spans ``find`` returns against the planted ones
    (a hit needs the exact span and type): ``{kind: {"precision", "recall", "tp", "fp",
    "fn"}}`` for every type planted or predicted. Precision is NaN when nothing was
    predicted."""
    counts: dict[str, list[int]] = {}
    for doc in documents:
        truth, predicted = set(doc.spans), set(find(doc.text))
        for span in truth | predicted:
            c = counts.setdefault(span.kind, [0, 0, 0])
            c[0 if span in truth and span in predicted else 1 if span in predicted else 2] += 1
    return {kind: {"precision": tp / (tp + fp) if tp + fp else float("nan"),
                   "recall": tp / (tp + fn) if tp + fn else float("nan"),
                   "tp": tp, "fp": fp, "fn": fn}
            for kind, (tp, fp, fn) in sorted(counts.items())}
