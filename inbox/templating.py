"""Pure checks on message template text: "Hello {name}" with plain identifiers in braces only."""
from __future__ import annotations

import re
import string

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def template_variables(text: str) -> list[str]:
    """The variable names of `text`, in order of first use; ValueError names what is malformed.

    Only `{identifier}` is allowed: positional `{}`/`{0}`, attribute or index access (`{a.b}`,
    `{a[0]}`), conversions and format specs would make rendering fail or expose internals."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"braces do not match: {exc} (write {{{{ and }}}} for literal braces)") from None
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not _IDENTIFIER.match(field) or spec or conversion:
            shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise ValueError(f"{shown} is not a variable: use a plain name in braces like {{first_name}}")
        if field not in names:
            names.append(field)
    return names
