import pytest

from portal.core.request_context import client_ip_from_meta


@pytest.mark.parametrize(
    ("proxies", "meta", "expected"),
    [
        (0, {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "10.0.0.5"),  # no proxy trusted: header ignored
        (1, {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4"}, "1.2.3.4"),  # left entry is forgeable
        (2, {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4, 10.0.0.9"}, "1.2.3.4"),
        (1, {"REMOTE_ADDR": "10.0.0.5"}, "10.0.0.5"),  # header missing
        (1, {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "not-an-ip"}, "10.0.0.5"),
        (0, {"REMOTE_ADDR": "garbage"}, None),
    ],
)
def test_client_ip_trusts_only_the_configured_proxies(settings, proxies, meta, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip_from_meta(meta) == expected
