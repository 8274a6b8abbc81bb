"""Content credentials for generated files: a signed manifest binding an output's hash to
the model, its settings and the time, in the spirit of C2PA (the Coalition for Content
Provenance and Authenticity's specification, whose manifests carry a signed *claim* with a
hash of the asset).

* :func:`sign_content` -- the claim ``{content_sha256, model, settings, created, signer}``
  serialised as canonical JSON (sorted keys, no spaces) and signed with Ed25519 (RFC 8032)
  from the ``cryptography`` library;
* :func:`verify_content` -- checks the signer is trusted, the signature matches the claim
  and the hash matches the content, and says which check failed.

What it cannot prove: a valid manifest says *who* signed *which bytes*, not that the content
is true; a missing manifest proves nothing (re-encoding or a screenshot strips it); a
stolen key signs anything.

Used in: chapter 10.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

FORMAT = "genai-course-manifest/1"


def generate_key(seed: bytes | None = None) -> Ed25519PrivateKey:
    """A new Ed25519 signing key (from a 32-byte ``seed`` when given, for reproducible
    examples; never do that with a real key)."""
    if seed is None:
        return Ed25519PrivateKey.generate()
    if not isinstance(seed, bytes) or len(seed) != 32:
        raise ValueError("seed must be 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte public key, in hex: how a verifier names a trusted signer."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def canonical_json(obj: Any) -> bytes:
    """One byte string per JSON value: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_content(content: bytes, key: Ed25519PrivateKey, *, model: str,
                 settings: Mapping[str, Any], created: str | None = None) -> dict[str, Any]:
    """A manifest ``{"claim": ..., "signature": hex}`` for ``content``: the claim holds the
    content's SHA-256, the ``model`` and its generation ``settings`` (JSON values), the
    creation time (UTC, ISO 8601; now unless ``created`` is given) and the signer's public
    key."""
    if not isinstance(content, bytes):
        raise TypeError(f"content must be bytes, got {type(content).__name__}")
    claim = {"format": FORMAT, "content_sha256": hashlib.sha256(content).hexdigest(),
             "model": model, "settings": dict(settings),
             "created": created or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
             "signer": public_key_hex(key)}
    return {"claim": claim, "signature": key.sign(canonical_json(claim)).hex()}


@dataclass(frozen=True)
class Verification:
    """``valid`` and, either way, the reason."""

    valid: bool
    reason: str


def verify_content(content: bytes, manifest: Mapping[str, Any] | None,
                   trusted: Collection[str]) -> Verification:
    """Check ``content`` against its ``manifest`` and the ``trusted`` signers' public keys
    (hex): a missing manifest, an unknown signer, a signature that does not match the claim
    (the manifest was edited) and a hash that does not match the content (the content was
    edited) each fail with their own reason."""
    if manifest is None:
        return Verification(False, "no manifest: the provenance is unknown (which proves "
                                   "nothing either way)")
    try:
        claim, signature = manifest["claim"], bytes.fromhex(manifest["signature"])
        signer = claim["signer"]
    except (KeyError, TypeError, ValueError):
        return Verification(False, "malformed manifest")
    if signer not in trusted:
        return Verification(False, f"signed by a key that is not trusted ({signer[:16]}...)")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(signer)).verify(signature,
                                                                         canonical_json(claim))
    except (InvalidSignature, ValueError):
        return Verification(False, "the signature does not match the claim: the manifest was "
                                   "altered after signing")
    if hashlib.sha256(content).hexdigest() != claim.get("content_sha256"):
        return Verification(False, "the content's hash differs from the signed one: the content "
                                   "was altered after signing")
    return Verification(True, f"signed by {signer[:16]}... for {claim.get('model')} at "
                              f"{claim.get('created')}")
