"""The agent: what happens between model turns (private; the public faces are client.py,
tools.py and hooks.py)."""
