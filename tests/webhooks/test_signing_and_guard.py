"""The signature scheme and the address rules, without the network."""

from __future__ import annotations

import ipaddress
import time

import pytest

from portal.webhooks import net, signing


def test_signature_verifies_and_refuses_tampering_wrong_secret_and_old_timestamps():
    secret = signing.new_secret()
    body = b'{"id":"e1","type":"webhook.test"}'
    now = int(time.time())
    header = signing.signature_header([secret], now, body)
    assert header.startswith(f"t={now},v1=")
    assert signing.verify(secret, header, body) == now
    with pytest.raises(signing.SignatureError):
        signing.verify(secret, header, body.replace(b"e1", b"e2"))
    with pytest.raises(signing.SignatureError):
        signing.verify(signing.new_secret(), header, body)
    old = signing.signature_header([secret], now - 600, body)
    with pytest.raises(signing.SignatureError, match="tolerance"):
        signing.verify(secret, old, body)
    # the timestamp is part of what is signed: moving it breaks the signature
    moved = header.replace(f"t={now}", f"t={now + 1}")
    with pytest.raises(signing.SignatureError):
        signing.verify(secret, moved, body)


def test_signature_matches_an_independent_computation():
    import hashlib
    import hmac

    body = b'{"a":1}'
    expected = hmac.new(b"whsec_known", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signing.signature_header(["whsec_known"], 1700000000, body) == f"t=1700000000,v1={expected}"


def test_two_signatures_during_a_rotation_either_secret_verifies():
    new, old = signing.new_secret(), signing.new_secret()
    body = b"{}"
    header = signing.signature_header([new, old], int(time.time()), body)
    assert header.count("v1=") == 2
    signing.verify(new, header, body)
    signing.verify(old, header, body)


def test_secrets_are_encrypted_at_rest_and_need_the_key(settings):
    secret = signing.new_secret()
    token = signing.encrypt(secret)
    assert secret not in token and secret[6:] not in token
    assert signing.decrypt(token) == secret
    settings.WEBHOOKS_ENCRYPTION_KEYS = ["another key entirely"]
    with pytest.raises(signing.SignatureError, match="cannot be decrypted"):
        signing.decrypt(token)
    # key rotation: a new first key encrypts, the old one still decrypts
    settings.WEBHOOKS_ENCRYPTION_KEYS = ["another key entirely", settings.SECRET_KEY]
    assert signing.decrypt(token) == secret


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "fc00::1",
        "::",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",  # 6to4 around 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 around 10.0.0.1
    ],
)
def test_local_addresses_are_refused(address):
    assert net.is_local(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert not net.is_local(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url, message",
    [
        ("", "Give the endpoint"),
        ("ftp://example.com/hook", "https://"),
        ("file:///etc/passwd", "https://"),
        ("https://user:pw@example.com/hook", "user name or password"),
        ("https://example.com/hook#frag", "fragment"),
        ("https:///hook", "no host"),
        ("https://exa mple.com/", "spaces"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://example.com/" + "a" * 600, "too long"),
    ],
)
def test_malformed_urls_are_refused_with_a_reason(url, message):
    with pytest.raises(net.UnsafeURL, match=message):
        net.parse(url)


def test_production_rules_refuse_http_and_local_addresses_whatever_the_setting(production_rules):
    with pytest.raises(net.UnsafeURL, match="https:// in production"):
        net.check("http://example.com/hook")
    for url in ("https://127.0.0.1/", "https://localhost:8443/", "https://[::1]/", "https://[::ffff:10.0.0.1]/"):
        with pytest.raises(net.UnsafeURL, match="public addresses"):
            net.check(url)
