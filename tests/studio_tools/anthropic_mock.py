"""Messages API answers for the real anthropic SDK behind an httpx MockTransport (anthropic 2.x speaks httpx2)."""

from __future__ import annotations

import json

import anthropic
import httpx2


def message(
    text: str, *, input_tokens: int = 1200, output_tokens: int = 150, cache_write: int = 1000, cache_read: int = 0
) -> dict:
    """A Messages API answer holding `text`, with the given token usage."""
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
        },
    }


def mock_client(handle, *, max_retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="test-key", http_client=httpx2.Client(transport=httpx2.MockTransport(handle)), max_retries=max_retries
    )


class Server:
    """Answers each request with the next scripted response and keeps the requests."""

    def __init__(self, *responses: httpx2.Response) -> None:
        self.responses = list(responses)
        self.requests: list[dict] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/v1/messages"
        self.requests.append(json.loads(request.content))
        return self.responses.pop(0)

    def client(self, max_retries: int = 3) -> anthropic.Anthropic:
        return mock_client(self.handle, max_retries=max_retries)
