"""Share links: a RunConfig as URL query parameters and back.

    params = config_to_query(cfg)                 # {"activation": "relu", "widths": "256-256"}
    cfg, warnings = config_from_query(params)     # lenient: bad values -> defaults + warnings

Only settings that differ from the defaults are written, so links stay short; missing
settings take defaults. Parameter names are the config's field names. Nothing from a URL is
ever evaluated: each value is parsed by the field's own coercion and range check.
"""
from __future__ import annotations

from typing import Iterable, Mapping

from ..base.config import RunConfig, config_fields

MAX_VALUE_LENGTH = 2000


def _as_text(value) -> str:
    if isinstance(value, tuple):
        return "-".join(map(str, value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def config_to_query(cfg: RunConfig) -> dict[str, str]:
    """Query parameters for the settings of `cfg` that differ from the defaults."""
    default = RunConfig()
    return {f.name: _as_text(getattr(cfg, f.name)) for f in config_fields()
            if getattr(cfg, f.name) != getattr(default, f.name)}


def config_from_query(params: Mapping[str, str | Iterable[str]], ignore: Iterable[str] = ()
                      ) -> tuple[RunConfig, list[str]]:
    """The config a link describes, and one warning per parameter that was ignored.

    `ignore` names parameters that belong to the page rather than the config (e.g. "runs").
    A repeated key uses its last value, as browsers do for forms.
    """
    skip = set(ignore)
    values, warnings = {}, []
    for key, raw in params.items():
        if key in skip:
            continue
        if not isinstance(raw, str):
            raw = list(raw)
            raw = raw[-1] if raw else ""
        if len(raw) > MAX_VALUE_LENGTH:
            warnings.append(f"{key[:40]}: value too long ({len(raw)} characters), ignored")
            continue
        values[key] = raw.replace("-", " ") if key == "widths" else raw
    cfg, more = RunConfig.from_lenient(values)
    return cfg, warnings + more
