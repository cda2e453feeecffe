"""any-agent conformance suite: a pytest plugin that certifies an OpenAI-compatible server.

Run ``pytest --provider=llamacpp`` (or ``pytest --base-url URL --model ID``) from any
directory; ``pytest --conformance-list`` prints the checks. The plugin is inert unless one
of its options is given.
"""

from __future__ import annotations

__all__ = ["SUITE_VERSION", "__version__"]

#: Version of the check catalogue and its judging rules (not of the package). Bump the patch
#: for new checks that leave the others' requests alone (an older recording of the same minor
#: still replays; the new checks are ``not-recorded`` for it), the minor when requests change
#: (older recordings are refused), the major when a judgement changes meaning.
SUITE_VERSION = "0.1.1"
__version__ = SUITE_VERSION
