"""What counts as an answer to an escalation: one of its options, or free text without any.

An agent that lists options (``Google``, ``GitHub``, ``Okta``) is waiting for one of
them; anything else would reach it as an answer it cannot act on. An escalation
without options takes any non-empty text. Every door that records an answer (the CLI's
``decide ID answer``, the TUI's answer dialog) checks it here first, so all of them
refuse the same way.

Pure: no database, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from swarmdeck.store.errors import InvalidDecision


def check_answer(answer: str | None, options: Sequence[str] | None) -> str:
    """The answer to record: the option as the agent spelled it (case is forgiven), or
    the text itself when there are no options.

    Raises:
        InvalidDecision: an empty answer, or one that is not among ``options`` (the
            message lists them).
    """
    text = (answer or "").strip()
    if not text:
        raise InvalidDecision("answer needs the answer text")
    if not options:
        return text
    for option in options:
        if option == text:
            return option
    folded = [o for o in options if o.casefold() == text.casefold()]
    if len(folded) == 1:
        return folded[0]
    listed = ", ".join(repr(o) for o in options)
    raise InvalidDecision(f"{text!r} is not one of the options: {listed}")
