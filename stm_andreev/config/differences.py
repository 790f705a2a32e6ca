"""Which settings differ between two texts of one configuration file (dotted key paths).

Used when a run is resumed: the run continues with the station stored in its file, and the
operator is told what an edited station file would have changed.
"""

from __future__ import annotations

from typing import Any

from stm_andreev.config.yaml_file import parse_yaml

_MISSING = object()


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix or "(top level)"] = value


def differing_keys(old_text: str, new_text: str, file: str = "<station>") -> list[str]:
    """Dotted keys whose values differ (added, removed or changed), sorted; ``["(the whole
    file: ...)"]`` when one text is not valid YAML (then nothing finer can be said)."""
    try:
        old = parse_yaml(old_text, file).data
        new = parse_yaml(new_text, file).data
    except Exception as exc:  # a config error in an edited file: its whole text differs
        return [f"(the whole file: {str(exc).splitlines()[0][:120]})"]
    flat_old: dict[str, Any] = {}
    flat_new: dict[str, Any] = {}
    _flatten(old, "", flat_old)
    _flatten(new, "", flat_new)
    return sorted(k for k in flat_old.keys() | flat_new.keys()
                  if flat_old.get(k, _MISSING) != flat_new.get(k, _MISSING))


def describe(keys: list[str], limit: int = 8) -> str:
    """'a.b, c (and 3 more)'."""
    shown = ", ".join(keys[:limit])
    return shown + (f" (and {len(keys) - limit} more)" if len(keys) > limit else "")
