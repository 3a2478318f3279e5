"""Prompt names, labels and version bounds: the rules shared by prompt management and the gateway's `prompt`
extension, apart from the prompt models so that the gateway does not import those at cold start."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

# Matched with fullmatch: `$` alone also matches before a trailing newline, and "name\n" was accepted, then
# unreachable by its path.
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
LABEL_PATTERN = r"[a-z0-9][a-z0-9._-]{0,63}"
LATEST = "latest"
PRODUCTION = "production"
MAX_TEMPLATE_CHARS = 100_000
MAX_MESSAGES = 100
MAX_TOTAL_MESSAGE_CHARS = 200_000
MAX_LABELS = 20
MAX_TAGS = 20
MAX_PARAMETERS = 50
# Version numbers are counted one save at a time; the bound keeps them (and DynamoDB's numbers) sane.
MAX_VERSION = 2**31 - 1

NAME_RULE = "1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
LABEL_RULE = "1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"

_name_re = re.compile(NAME_PATTERN)
_label_re = re.compile(LABEL_PATTERN)


def is_valid_name(name: str) -> bool:
    return bool(_name_re.fullmatch(name))


def is_valid_label(label: str) -> bool:
    return bool(_label_re.fullmatch(label))


LATEST_RESERVED = "'latest' is automatic: it always points at the newest version and cannot be set or removed"


def checked_name(name: str) -> str:
    """`name` if it is a valid prompt name, else ValueError saying what is allowed."""
    if not is_valid_name(name):
        raise ValueError(f"invalid prompt name {name[:140]!r}: use {NAME_RULE}")
    return name


def checked_label(label: str) -> str:
    """`label` if it is a valid label, else ValueError saying what is allowed."""
    if not is_valid_label(label):
        raise ValueError(f"invalid label {label[:80]!r}: use {LABEL_RULE}")
    return label


PromptName = Annotated[str, AfterValidator(checked_name)]
Label = Annotated[str, AfterValidator(checked_label)]
