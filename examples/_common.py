"""Shared command line for the examples: every example runs against any server."""

from __future__ import annotations

import argparse

from any_agent.config import get_base_url, get_model


def server_args(description: str) -> argparse.Namespace:
    """``--base-url`` and ``--model``, defaulting to $ANY_AGENT_BASE_URL / $ANY_AGENT_MODEL."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--base-url", default=None, help="e.g. http://127.0.0.1:8080/v1")
    parser.add_argument("--model", default=None, help="the model id the server serves")
    args = parser.parse_args()
    args.base_url = args.base_url or get_base_url(provider="llamacpp")
    args.model = args.model or get_model("qwen2.5-coder-1.5b")
    return args
