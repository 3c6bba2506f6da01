"""Real key material for the fake PayPal's webhook certificates: a root CA,
an intermediate and a leaf for ``messageverificationcerts.paypal.com`` (RSA
2048), shaped as the web-PKI profile that ``cryptography``'s verifier
enforces wants them (key identifiers, usages, SAN, EKU), plus the broken
variants the tests need (expired, another name, no chain to the root)."""

from __future__ import annotations

import dataclasses
import datetime
import functools

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LEAF_NAME = "messageverificationcerts.paypal.com"


@dataclasses.dataclass
class KeyPair:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _issue(
    name: str,
    key: rsa.RSAPrivateKey,
    issuer: KeyPair | None,
    *,
    ca: bool,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
) -> KeyPair:
    """A certificate the web-PKI profile accepts (key ids, usages, SAN)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if issuer is not None:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())
        builder = builder.add_extension(aki, critical=False)
    usage = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    if ca:
        usage |= {"key_cert_sign": True, "crl_sign": True}
    else:
        usage |= {"digital_signature": True, "key_encipherment": True}
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    builder = builder.add_extension(x509.KeyUsage(**usage), critical=True)
    signer = issuer.key if issuer else key
    return KeyPair(key, builder.sign(signer, hashes.SHA256()))


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclasses.dataclass
class Chains:
    root: KeyPair
    intermediate: KeyPair
    leaf: KeyPair
    pems: dict[str, bytes]
    """PEM chains by name: ``good``, ``expired``, ``wrong_name``,
    ``untrusted`` (chained to another root), ``self_signed``."""


def make_chains() -> Chains:
    now = datetime.datetime.now(datetime.UTC)
    day = datetime.timedelta(days=1)
    root = _issue(
        "Fake PayPal Test Root CA",
        _new_key(),
        None,
        ca=True,
        not_before=now - day,
        not_after=now + 3650 * day,
    )
    intermediate = _issue(
        "Fake PayPal Test Intermediate CA",
        _new_key(),
        root,
        ca=True,
        not_before=now - day,
        not_after=now + 1825 * day,
    )
    leaf_key = _new_key()
    valid = {"not_before": now - day, "not_after": now + 365 * day}
    leaf = _issue(LEAF_NAME, leaf_key, intermediate, ca=False, **valid)
    expired = _issue(
        LEAF_NAME,
        leaf_key,
        intermediate,
        ca=False,
        not_before=now - 400 * day,
        not_after=now - 30 * day,
    )
    wrong_name = _issue("evil.example.com", leaf_key, intermediate, ca=False, **valid)
    # Same name and key, but made elsewhere: no chain to the trusted root.
    other_root = _issue("Someone Else's CA", _new_key(), None, ca=True, **valid)
    untrusted = _issue(LEAF_NAME, leaf_key, other_root, ca=False, **valid)
    self_signed = _issue(LEAF_NAME, leaf_key, None, ca=False, **valid)
    pems = {
        "good": leaf.pem + intermediate.pem,
        "expired": expired.pem + intermediate.pem,
        "wrong_name": wrong_name.pem + intermediate.pem,
        "untrusted": untrusted.pem + other_root.pem,
        "self_signed": self_signed.pem,
    }
    return Chains(root, intermediate, leaf, pems)


@functools.cache
def shared_chains() -> Chains:
    """One set of key material for every fake of a test run."""
    return make_chains()
