"""Live-stream tokens: Agora AccessToken2 (007) built by our module and
verified offline by decoding and recomputing the signature; Agora's own
known vector reproduced byte for byte; the development issuer; settings and
wiring. No network."""

from __future__ import annotations

import base64
import zlib
from typing import Any

import pytest

from actors.ports import LiveTokenError, LiveTokenIssuer
from server.config import Settings, from_argv
from server.live_tokens.agora import (
    AgoraTokenIssuer,
    RtcPrivilege,
    build_rtc_token,
    decode_token,
    parse_token,
)
from server.live_tokens.dev import DevTokenIssuer
from server.wiring import make_live_token_issuer

APP_ID = "0123456789abcdef0123456789abcdef"
CERT = "fedcba9876543210fedcba9876543210"
OTHER_CERT = "fedcba9876543210fedcba9876543211"
NOW = 1_800_000_000.5
USER = "65a1f0c2e4b0a1b2c3d4e5f6"  # a Grover user id: 24 hex characters
CHANNEL = "stream:65a1f0c2e4b0a1b2c3d4e5f7"

ALL_PRIVILEGES = {int(p) for p in RtcPrivilege}

# Agora's token library (AgoraIO/Tools, DynamicKey/AgoraDynamicKey/python3/
# test/AccessToken2Test.py, test_service_rtc_account): these inputs, an RTC
# service with the join privilege for 600 s, give exactly this token.
AGORA_APP_ID = "970CA35de60c44645bbae8a215061b33"
AGORA_CERT = "5CFd2fd1755d40ecb72977518be15d3b"
AGORA_CHANNEL = "7d72365eb983485397e3e3f9d460bdda"
AGORA_ACCOUNT = "2882341273"
AGORA_ISSUE_TS = 1111111
AGORA_SALT = 1
AGORA_EXPIRE = 600
AGORA_TOKEN = (
    "007eJxTYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcw"
    "Mk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxgDCaiTj"
)


def issuer() -> AgoraTokenIssuer:
    return AgoraTokenIssuer(APP_ID, CERT, clock=lambda: NOW)


# -- Agora's known vector ------------------------------------------------------


def test_agoras_known_vector_is_reproduced_byte_for_byte() -> None:
    token = build_rtc_token(
        app_id=AGORA_APP_ID,
        app_certificate=AGORA_CERT,
        channel=AGORA_CHANNEL,
        account=AGORA_ACCOUNT,
        privileges={RtcPrivilege.JOIN_CHANNEL: AGORA_EXPIRE},
        expire=AGORA_EXPIRE,
        issue_ts=AGORA_ISSUE_TS,
        salt=AGORA_SALT,
    )
    assert token == AGORA_TOKEN


def test_the_issuer_reproduces_agoras_vector_for_a_subscriber() -> None:
    issued = AgoraTokenIssuer(AGORA_APP_ID, AGORA_CERT).issue(
        AGORA_CHANNEL,
        AGORA_ACCOUNT,
        "subscriber",
        AGORA_EXPIRE,
        issue_ts=AGORA_ISSUE_TS,
        salt=AGORA_SALT,
    )
    assert issued.token == AGORA_TOKEN
    assert issued.expires_at == AGORA_ISSUE_TS + AGORA_EXPIRE


def test_agoras_vector_parses_and_verifies() -> None:
    parsed = parse_token(AGORA_TOKEN, AGORA_CERT)
    assert parsed.verified
    assert (parsed.app_id, parsed.issue_ts, parsed.expire, parsed.salt) == (
        AGORA_APP_ID,
        AGORA_ISSUE_TS,
        AGORA_EXPIRE,
        AGORA_SALT,
    )
    assert (parsed.channel, parsed.account) == (AGORA_CHANNEL, AGORA_ACCOUNT)
    assert parsed.rtc.privileges == {1: AGORA_EXPIRE}
    with pytest.raises(LiveTokenError, match="signature"):
        parse_token(AGORA_TOKEN, AGORA_CERT.lower().replace("5", "6"))


# -- issued tokens, verified offline -------------------------------------------


def test_a_publisher_token_grants_join_and_publish_until_expiry() -> None:
    issued = issuer().issue(CHANNEL, USER, "publisher", 600)
    assert issued.token.startswith("007")
    assert (issued.app_id, issued.channel, issued.account, issued.role) == (
        APP_ID,
        CHANNEL,
        USER,
        "publisher",
    )
    assert not issued.development
    parsed = parse_token(issued.token, CERT)
    assert parsed.verified and parsed.app_id == APP_ID
    assert (parsed.channel, parsed.account) == (CHANNEL, USER)
    assert parsed.issue_ts == int(NOW) and parsed.expire == 600
    assert set(parsed.rtc.privileges) == ALL_PRIVILEGES
    assert parsed.expires_at == issued.expires_at == int(NOW) + 600
    for privilege in RtcPrivilege:
        assert parsed.privilege_expires_at(privilege) == issued.expires_at
    assert list(parsed.services) == [1]  # the RTC service only


def test_a_subscriber_token_grants_join_only() -> None:
    issued = issuer().issue(CHANNEL, USER, "subscriber", 600)
    parsed = parse_token(issued.token, CERT)
    assert parsed.rtc.privileges == {RtcPrivilege.JOIN_CHANNEL: 600}
    assert parsed.privilege_expires_at(RtcPrivilege.PUBLISH_VIDEO) is None
    assert parsed.privilege_expires_at(RtcPrivilege.JOIN_CHANNEL) == issued.expires_at


def test_ttl_is_rounded_up_to_whole_seconds_and_follows_the_clock() -> None:
    clock = [NOW]
    tokens = AgoraTokenIssuer(APP_ID, CERT, clock=lambda: clock[0])
    first = tokens.issue(CHANNEL, USER, "subscriber", 30.2)
    clock[0] += 100
    second = tokens.issue(CHANNEL, USER, "subscriber", 30.2)
    assert parse_token(first.token, CERT).expire == 31
    assert first.expires_at == int(NOW) + 31
    assert second.expires_at == int(NOW) + 100 + 31


def test_every_token_is_salted_differently() -> None:
    tokens = issuer()
    issued = {tokens.issue(CHANNEL, USER, "publisher", 600).token for _ in range(20)}
    assert len(issued) == 20
    salts = {parse_token(token, CERT).salt for token in issued}
    assert len(salts) == 20


def test_a_wrong_certificate_is_refused() -> None:
    token = issuer().issue(CHANNEL, USER, "publisher", 600).token
    with pytest.raises(LiveTokenError, match="signature"):
        parse_token(token, OTHER_CERT)
    # Decoding without verifying still works, and says so.
    assert not decode_token(token).verified


def _repack(token: str, edit: Any) -> str:
    raw = bytearray(zlib.decompress(base64.b64decode(token[3:])))
    edit(raw)
    return "007" + base64.b64encode(zlib.compress(bytes(raw))).decode()


@pytest.mark.parametrize("offset", [2, 20, 40, 60, -1, -30])
def test_a_flipped_byte_is_refused(offset: int) -> None:
    """A byte flipped inside the signature or the signed content (app id,
    timestamps, privileges, channel, account) fails the signature check or
    the decoding, never passes."""
    token = issuer().issue(CHANNEL, USER, "subscriber", 600).token

    def flip(raw: bytearray) -> None:
        raw[offset] ^= 0x01

    with pytest.raises(LiveTokenError):
        parse_token(_repack(token, flip), CERT)


def test_a_longer_expiry_cannot_be_granted_by_editing_the_token() -> None:
    token = issuer().issue(CHANNEL, USER, "subscriber", 600).token
    parsed = decode_token(token)
    expire_at = 2 + len(parsed.signature) + 2 + len(APP_ID) + 4

    def extend(raw: bytearray) -> None:
        raw[expire_at : expire_at + 4] = (86400).to_bytes(4, "little")

    forged = _repack(token, extend)
    assert decode_token(forged).expire == 86400
    with pytest.raises(LiveTokenError, match="signature"):
        parse_token(forged, CERT)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-4],  # base64 cut
        lambda t: t[:40],
        lambda t: "006" + t[3:],  # the legacy version
        lambda t: t[3:],
        lambda t: t + "!",
        lambda t: "",
        lambda t: "007",
        lambda t: "007" + base64.b64encode(b"not zlib").decode(),
        lambda t: "007" + base64.b64encode(zlib.compress(b"\x05")).decode(),
    ],
)
def test_a_truncated_or_garbled_token_is_refused(mangle: Any) -> None:
    token = issuer().issue(CHANNEL, USER, "publisher", 600).token
    with pytest.raises(LiveTokenError):
        parse_token(mangle(token), CERT)


def test_truncated_content_is_refused_at_every_length() -> None:
    token = issuer().issue(CHANNEL, USER, "publisher", 600).token
    raw = zlib.decompress(base64.b64decode(token[3:]))
    for length in range(len(raw)):
        cut = "007" + base64.b64encode(zlib.compress(raw[:length])).decode()
        with pytest.raises(LiveTokenError):
            parse_token(cut, CERT)
    trailing = "007" + base64.b64encode(zlib.compress(raw + b"\x00")).decode()
    with pytest.raises(LiveTokenError):
        parse_token(trailing, CERT)


# -- input validation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("app_id", "certificate"),
    [
        ("", CERT),
        (APP_ID, ""),
        (APP_ID[:-1], CERT),
        (APP_ID + "0", CERT),
        (APP_ID, CERT[:-1] + "g"),
        ("0123456789abcdef  23456789abcdef", CERT),  # spaces are not hex
        (APP_ID, "fedcba9876543210fedcba987654321\u0660"),  # an Arabic-Indic digit
    ],
)
def test_a_malformed_app_id_or_certificate_is_refused_unquoted(
    app_id: str, certificate: str
) -> None:
    with pytest.raises(LiveTokenError, match="32 hexadecimal") as error:
        AgoraTokenIssuer(app_id, certificate)
    if certificate:
        assert certificate not in str(error.value)


@pytest.mark.parametrize(
    ("channel", "account", "message"),
    [
        ("", USER, "non-empty"),
        (CHANNEL, "", "non-empty"),  # an empty account would let anyone join
        ("a" * 65, USER, "65 bytes"),
        (CHANNEL, "u" * 256, "256 bytes"),
        ("stream/1", USER, "characters"),
        ("stream\n1", USER, "characters"),
        ("caf\u00e9", USER, "characters"),
        (CHANNEL, "user'1", "characters"),
        (CHANNEL, "\u200buser", "characters"),
    ],
)
def test_bad_channel_names_and_accounts_are_refused(
    channel: str, account: str, message: str
) -> None:
    with pytest.raises(LiveTokenError, match=message):
        issuer().issue(channel, account, "publisher", 600)


def test_the_longest_channel_and_account_and_every_allowed_character_pass() -> None:
    punctuation = " !#$%&()+-:;<=.>?@[]^_{}|~,"
    for channel, account in (
        ("c" * 64, "a" * 255),
        (punctuation, "AZaz09" + punctuation),
    ):
        parsed = parse_token(issuer().issue(channel, account, "subscriber", 600).token, CERT)
        assert (parsed.channel, parsed.account) == (channel, account)


@pytest.mark.parametrize("ttl", [0, 0.5, -1, 86401, float("nan"), float("inf"), True, "600"])
def test_a_ttl_out_of_range_is_refused(ttl: Any) -> None:
    with pytest.raises(LiveTokenError, match="ttl"):
        issuer().issue(CHANNEL, USER, "publisher", ttl)


@pytest.mark.parametrize("role", ["admin", "", "Publisher", None])
def test_an_unknown_role_is_refused(role: Any) -> None:
    with pytest.raises(LiveTokenError, match="role"):
        issuer().issue(CHANNEL, USER, role, 600)


@pytest.mark.parametrize(("issue_ts", "salt"), [(-1, 1), (2**32, 1), (1, 2**32), (1, -5)])
def test_timestamps_and_salts_outside_uint32_are_refused(issue_ts: int, salt: int) -> None:
    with pytest.raises(LiveTokenError):
        issuer().issue(CHANNEL, USER, "publisher", 600, issue_ts=issue_ts, salt=salt)


def test_the_issuer_never_shows_its_certificate() -> None:
    assert CERT not in repr(issuer())
    assert CERT not in repr(issuer().issue(CHANNEL, USER, "publisher", 600))


# -- Agora's library as an independent reference (test extra) ------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # its package imports legacy modules
@pytest.mark.parametrize("role", ["publisher", "subscriber"])
def test_agoras_library_and_ours_agree(role: str) -> None:
    """``agoraiotools`` (the ``test`` extra) is Agora's own library: an
    independent reference, never used at runtime."""
    builder = pytest.importorskip("agoraiotools.RtcTokenBuilder2")
    access_token = pytest.importorskip("agoraiotools.AccessToken2")

    theirs = builder.RtcTokenBuilder.build_token_with_user_account(
        APP_ID,
        CERT,
        CHANNEL,
        USER,
        builder.Role_Publisher if role == "publisher" else builder.Role_Subscriber,
        600,
        600,
    )
    assert theirs  # their builder returns '' on bad input
    parsed = parse_token(theirs, CERT)  # our parser verifies their token
    assert (parsed.channel, parsed.account, parsed.expire) == (CHANNEL, USER, 600)
    expected = ALL_PRIVILEGES if role == "publisher" else {1}
    assert set(parsed.rtc.privileges) == expected
    # ... and their parser reads ours (same issue ts and salt: same token).
    ours = AgoraTokenIssuer(APP_ID, CERT).issue(
        CHANNEL, USER, role, 600, issue_ts=parsed.issue_ts, salt=parsed.salt
    )
    assert ours.token == theirs
    reader = access_token.AccessToken()
    assert reader.from_string(ours.token)


# -- development tokens --------------------------------------------------------


def test_dev_tokens_are_marked_and_verify() -> None:
    dev = DevTokenIssuer(clock=lambda: NOW)
    issued = dev.issue(CHANNEL, USER, "publisher", 600)
    assert issued.development and issued.token.startswith("dev:")
    assert issued.app_id == ""
    assert issued.expires_at == int(NOW) + 600
    claims = dev.verify(issued.token)
    assert (claims.channel, claims.account, claims.role) == (CHANNEL, USER, "publisher")
    assert (claims.issued_at, claims.expires_at) == (int(NOW), int(NOW) + 600)
    with pytest.raises(LiveTokenError):
        parse_token(issued.token, CERT)  # never taken for an Agora token


def test_dev_tokens_refuse_edits_other_keys_and_bad_input() -> None:
    dev = DevTokenIssuer(key=b"k" * 32)
    token = dev.issue(CHANNEL, USER, "subscriber", 600).token
    assert DevTokenIssuer(key=b"k" * 32).verify(token).role == "subscriber"
    with pytest.raises(LiveTokenError, match="signature"):
        DevTokenIssuer().verify(token)
    claims, _, signature = token.partition(".")
    forged = claims.replace("c", "d", 1) + "." + signature
    for bad in (forged, token[:-2], claims, "007" + token, ""):
        with pytest.raises(LiveTokenError):
            dev.verify(bad)
    for args in (("", USER), (CHANNEL, ""), ("c" * 256, USER)):
        with pytest.raises(LiveTokenError):
            dev.issue(*args, "subscriber", 600)
    with pytest.raises(LiveTokenError, match="role"):
        dev.issue(CHANNEL, USER, "host", 600)  # type: ignore[arg-type]
    with pytest.raises(LiveTokenError, match="ttl"):
        dev.issue(CHANNEL, USER, "subscriber", 0)


# -- settings and wiring -------------------------------------------------------


def test_without_credentials_the_issuer_is_the_development_one() -> None:
    tokens: LiveTokenIssuer = make_live_token_issuer(Settings())
    assert tokens.name == "dev"
    assert tokens.issue(CHANNEL, USER, "publisher", 600).development


def test_with_credentials_the_issuer_is_agoras_and_the_certificate_stays_hidden() -> None:
    settings = from_argv([], {"GROVER_AGORA_APP_ID": APP_ID, "GROVER_AGORA_APP_CERTIFICATE": CERT})
    assert settings.agora_app_certificate == CERT
    assert CERT not in repr(settings)
    assert APP_ID in repr(settings)
    tokens = make_live_token_issuer(settings)
    assert tokens.name == "agora"
    issued = tokens.issue(CHANNEL, USER, "subscriber", settings.live_token_ttl)
    assert parse_token(issued.token, CERT).expire == 600


@pytest.mark.parametrize(
    ("environ", "missing"),
    [
        ({"GROVER_AGORA_APP_ID": APP_ID}, "GROVER_AGORA_APP_CERTIFICATE"),
        ({"GROVER_AGORA_APP_CERTIFICATE": CERT}, "GROVER_AGORA_APP_ID"),
    ],
)
def test_half_the_credentials_is_an_error_not_development_mode(
    environ: dict[str, str], missing: str
) -> None:
    with pytest.raises(ValueError, match=missing) as error:
        make_live_token_issuer(from_argv([], environ))
    assert CERT not in str(error.value)


def test_a_malformed_certificate_stops_the_node_unquoted() -> None:
    bad = "not-a-certificate-but-a-secret!!"
    settings = from_argv([], {"GROVER_AGORA_APP_ID": APP_ID, "GROVER_AGORA_APP_CERTIFICATE": bad})
    with pytest.raises(ValueError, match="certificate") as error:
        make_live_token_issuer(settings)
    assert bad not in str(error.value)


@pytest.mark.parametrize("ttl", ["0", "-5", "86401", "nan"])
def test_live_token_ttl_is_checked_at_start(ttl: str) -> None:
    with pytest.raises(ValueError, match="GROVER_LIVE_TOKEN_TTL"):
        from_argv([], {"GROVER_LIVE_TOKEN_TTL": ttl})
    assert from_argv(["--live-token-ttl", "120"]).live_token_ttl == 120
