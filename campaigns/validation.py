"""Pure checks of campaign input: audience filters and the variables a text or template needs
(the brace syntax itself is inbox.templating's, shared with one-off sends)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from inbox.templating import template_variables

AUDIENCE_KEYS = ("tags_any", "tags_all", "operator_code", "country", "min_score")
# Filled in per contact at expansion; a template may use them without the campaign giving them.
CONTACT_VARIABLES = frozenset({"name", "first_name", "phone", "email", "country"})


def _strings(key: str, value) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"audience.{key} must be a list of non-empty strings")
    return sorted({v.strip() for v in value})


def normalize_audience(raw: Mapping | None) -> dict:
    """The audience filter in its stored form; unknown keys and bad values raise ValueError."""
    raw = dict(raw or {})
    unknown = sorted(set(raw) - set(AUDIENCE_KEYS))
    if unknown:
        raise ValueError(f"audience has unknown filters: {', '.join(unknown)} (known: {', '.join(AUDIENCE_KEYS)})")
    out: dict = {}
    for key in ("tags_any", "tags_all", "operator_code"):
        if raw.get(key) not in (None, "", []):
            out[key] = _strings(key, raw[key])
    if raw.get("country") not in (None, "", []):
        countries = _strings("country", raw["country"])
        if any(len(c) != 2 or not c.isalpha() for c in countries):
            raise ValueError("audience.country must be two-letter ISO country codes")
        out["country"] = sorted({c.upper() for c in countries})
    if raw.get("min_score") is not None:
        score = raw["min_score"]
        if isinstance(score, bool) or not isinstance(score, int) or abs(score) >= 2**31:
            raise ValueError("audience.min_score must be an integer (lead scores are whole numbers)")
        out["min_score"] = score
    return out


def placeholders(text: str) -> set[str]:
    """The variable names `text` uses ("Hello {name}" → {"name"}); malformed braces raise."""
    return set(template_variables(text))


def missing_variables(texts: Iterable[str], variables: Mapping) -> list[str]:
    """Names some text needs that neither the campaign's variables nor the contact fields give."""
    needed: set[str] = set()
    for text in texts:
        needed |= placeholders(text)
    return sorted(needed - set(variables) - CONTACT_VARIABLES)
