"""PII scrubbing: checksums against published numbers and python-stdnum, precision and recall
on the planted corpus against what the generator planted."""

from __future__ import annotations

import random

import pytest
from stdnum import iban as stdnum_iban
from stdnum import luhn as stdnum_luhn

from genai_course.safety import pii

#: Test card numbers published by card networks and payment processors (all pass Luhn).
PUBLISHED_CARDS = ["4111111111111111", "4012888888881881", "5555555555554444", "5105105105105100",
                   "378282246310005", "371449635398431", "6011111111111117", "3530111333300000",
                   "30569309025904", "79927398713"]
#: IBANs printed as examples by the ECBS / Wikipedia / banks' documentation.
PUBLISHED_IBANS = ["GB82 WEST 1234 5698 7654 32", "DE89 3704 0044 0532 0130 00",
                   "FR14 2004 1010 0505 0001 3M02 606", "NL91 ABNA 0417 1643 00",
                   "AT61 1904 3002 3457 3201", "ES91 2100 0418 4502 0005 1332",
                   "CH93 0076 2011 6238 5295 7"]


@pytest.mark.parametrize("number", PUBLISHED_CARDS)
def test_luhn_accepts_published_numbers_and_rejects_every_single_digit_error(number):
    assert pii.luhn_valid(number)
    for i in range(len(number)):
        for delta in range(1, 10):
            typo = number[:i] + str((int(number[i]) + delta) % 10) + number[i + 1:]
            assert not pii.luhn_valid(typo), typo


def test_luhn_agrees_with_python_stdnum_on_random_numbers():
    rng = random.Random(0)
    for _ in range(2000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 19)))
        assert pii.luhn_valid(digits) == stdnum_luhn.is_valid(digits), digits
        assert pii.luhn_valid(pii.luhn_complete(digits[:-1]))


@pytest.mark.parametrize(("bad", "error"), [(4111, TypeError), ("4111 111a", ValueError),
                                             ("7", ValueError), ("", ValueError)])
def test_luhn_rejects_bad_input_with_a_clear_error(bad, error):
    with pytest.raises(error, match="number"):
        pii.luhn_valid(bad)


@pytest.mark.parametrize("iban", PUBLISHED_IBANS)
def test_iban_mod97_on_published_examples(iban):
    assert pii.iban_valid(iban) and stdnum_iban.is_valid(iban)
    compact = iban.replace(" ", "")
    wrong_check = compact[:2] + f"{(int(compact[2:4]) + 1) % 100:02d}" + compact[4:]
    assert not pii.iban_valid(wrong_check) and not stdnum_iban.is_valid(wrong_check)
    assert not pii.iban_valid(compact[:-1])  # the country's length


def test_generated_ibans_agree_with_python_stdnum():
    rng = random.Random(1)
    for country, digits in [("DE", 18), ("FR", 23), ("NL", 10), ("GB", 14)]:
        for _ in range(50):
            body = "".join(rng.choice("0123456789") for _ in range(digits))
            bban = {"GB": "WEST" + body, "NL": "ABNA" + body}.get(country, body)
            iban = pii.iban_with_check_digits(country, bban)
            assert pii.iban_valid(iban) and stdnum_iban.is_valid(iban), iban


def test_scrub_replaces_each_kind_and_leaves_look_alikes():
    text = ("Mail ana.novak@example.com or call (415) 555-0123; card 4111 1111 1111 1111, "
            "order 4111 1111 1111 1112; IBAN GB82 WEST 1234 5698 7654 32 (old: GB83 WEST 1234 "
            "5698 7654 32); from 203.0.113.7, version 10.2.300.4.")
    assert pii.scrub_pii(text) == (
        "Mail [EMAIL] or call [PHONE]; card [CARD], order 4111 1111 1111 1112; IBAN [IBAN] "
        "(old: GB83 WEST 1234 5698 7654 32); from [IP], version 10.2.300.4.")


def test_precision_and_recall_on_the_planted_corpus_match_what_was_planted():
    docs = pii.pii_corpus(900, seed=3)
    scores = pii.pii_scores(docs)
    for kind in ("CARD", "IBAN", "IP"):  # shaped and checksummed: every one found
        assert scores[kind]["recall"] == 1.0, kind
    assert scores["IBAN"]["precision"] == 1.0 and scores["IP"]["precision"] == 1.0
    # a card false positive can only be the digits of a look-alike IBAN that pass Luhn by
    # chance (one in ten)
    for doc in docs:
        for span in set(pii.find_pii(doc.text)) - set(doc.spans):
            if span.kind == "CARD":
                assert "old account" in doc.text[:span.start], doc.text
    assert scores["CARD"]["precision"] > 0.97
    for kind in pii.NER_KINDS:  # no shape: nothing found
        assert scores[kind]["recall"] == 0.0 and scores[kind]["tp"] == 0
    # the misses are exactly the formats the patterns do not know
    spelled = sum(" at example dot org" in d.text for d in docs)
    trunk = sum("+44 (0)" in d.text for d in docs)
    tickets = sum(d.text.startswith("Ticket ") for d in docs)
    assert scores["EMAIL"]["fn"] == spelled > 0 and scores["EMAIL"]["precision"] == 1.0
    assert scores["PHONE"]["fn"] == trunk > 0
    assert scores["PHONE"]["fp"] == tickets > 0  # ticket numbers shaped like phone numbers


def test_without_the_checksum_order_numbers_become_cards():
    docs = pii.pii_corpus(300, seed=4)
    loose = pii.pii_scores(docs, find=lambda t: pii.find_pii(t, luhn=lambda n: True))
    assert loose["CARD"]["recall"] == 1.0 and loose["CARD"]["precision"] < 0.8
