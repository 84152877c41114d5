import pytest

from portal.core.request_context import client_ip_from_meta

PROXY = "10.0.0.5"


@pytest.mark.parametrize(
    ("trusted", "meta", "expected"),
    [
        ([], {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, PROXY),  # no proxy trusted: header ignored
        # the default uvicorn setup forwarded "*": anyone could claim any address; now a stranger's header is ignored
        (["10.0.0.5"], {"REMOTE_ADDR": "8.8.8.8", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "8.8.8.8"),
        (["10.0.0.5"], {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4"}, "1.2.3.4"),  # left is forgeable
        (["10.0.0.0/24"], {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4, 10.0.0.9"}, "1.2.3.4"),
        (["10.0.0.5"], {"REMOTE_ADDR": PROXY}, PROXY),  # header missing
        (["10.0.0.5"], {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "not-an-ip"}, PROXY),
        (["10.0.0.5"], {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "1.2.3.4, not-an-ip"}, PROXY),
        ([], {"REMOTE_ADDR": "garbage"}, None),
        (["::1"], {"REMOTE_ADDR": "::1", "HTTP_X_FORWARDED_FOR": "2001:db8::7"}, "2001:db8::7"),
    ],
)
def test_client_ip_trusts_only_the_configured_proxies(settings, trusted, meta, expected):
    settings.TRUSTED_PROXIES = trusted
    assert client_ip_from_meta(meta) == expected
