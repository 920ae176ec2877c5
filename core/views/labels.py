"""Short labels for several runs: only the settings that differ between them.

    distinct_labels({"a1": cfg1, "b2": cfg2})   # {"a1": "depth 5", "b2": "depth 8"}

As a sweep labels its runs by the one setting it varies, arbitrary runs are labelled by the
settings whose values are not the same for all of them (widths written as depth x width).
Runs whose configs differ in nothing shown get their run id appended, so labels stay unique; a
run alone (or runs that all share one config) is named by its config ('mlp 8x128 logistic
glorot_uniform sgd lr 0.01'), never by its hash. Uploaded data is named by its file's name.
"""
from __future__ import annotations

from ..base.config import RunConfig
from ..base.datasets import UPLOAD_PREFIX, is_upload, upload_meta

_SKIP = {"format_version"}


def _settings(cfg: RunConfig) -> dict:
    d = {k: v for k, v in cfg.to_dict().items() if k not in _SKIP}
    widths = tuple(d.pop("widths", ()) or ())
    if widths and len(set(widths)) == 1:
        d["depth"], d["width"] = len(widths), widths[0]
    elif widths:
        d["widths"] = "-".join(map(str, widths))
    return d


def _value(v) -> str:
    if is_upload(v):  # its file's name (bounded: core.engine.userdata), else its short hash
        source = (upload_meta(v) or {}).get("source")
        return source[:60] if isinstance(source, str) and source.isprintable() and source else \
            f"upload {v[len(UPLOAD_PREFIX):][:8]}"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "-".join(map(str, v))
    return str(v)


def distinct_labels(configs: dict[str, RunConfig]) -> dict[str, str]:
    """run id -> 'name value · name value' of the settings that differ (all runs' keys kept)."""
    settings = {rid: _settings(cfg) for rid, cfg in configs.items()}
    keys = list(dict.fromkeys(k for s in settings.values() for k in s))
    differ = [k for k in keys if len({_value(s.get(k)) for s in settings.values()}) > 1]
    labels = {rid: " · ".join(f"{k} {_value(s.get(k))}" for k in differ) or configs[rid].describe()
              for rid, s in settings.items()}
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    return {rid: (f"{label} · {rid}" if counts[label] > 1 else label)
            for rid, label in labels.items()}
