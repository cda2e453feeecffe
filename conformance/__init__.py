"""any-agent conformance suite: a pytest plugin that certifies an OpenAI-compatible server.

Run ``pytest --provider=llamacpp`` (or ``pytest --base-url URL --model ID``) from any
directory; ``pytest --conformance-list`` prints the checks. The plugin is inert unless one
of its options is given.
"""

from __future__ import annotations

__all__ = ["OLDEST_REPLAYABLE", "SUITE_VERSION", "__version__"]

#: Version of the check catalogue and its judging rules (not of the package). Bump the patch
#: for new checks that leave the others' requests alone, the minor for new areas or for
#: requests that change, the major when a judgement changes meaning. A recording made by any
#: suite from OLDEST_REPLAYABLE on still replays: checks newer than it are ``not-recorded`` for
#: it, and every check sends the request the recording's suite sent
#: (``Ctx.requests_since``).
SUITE_VERSION = "0.3.0"
#: The oldest suite whose recordings this one replays.
OLDEST_REPLAYABLE = "0.1.0"
__version__ = SUITE_VERSION
