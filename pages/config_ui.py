"""Sidebar widgets for every RunConfig field, kept in step with the URL.

    cfg = config_sidebar("explore")        # a valid RunConfig, or None (the error is shown)

The current configuration lives in st.session_state[f"{page}_cfg"]. A URL that differs from
what this page last wrote (a share link, a Home button) replaces it, with a visible warning
for every parameter that was ignored. Widgets take their values from the configuration, and
the configuration from the widgets; after each run the URL is rewritten from it.
Help texts, choices and ranges come from the config's field metadata.
"""
from __future__ import annotations

import streamlit as st

from core.config import ConfigError, RunConfig, active_limits, field_spec
from core.views.links import config_from_query, config_to_query

LR_CHOICES = [1e-5, 3e-5, 1e-4, 3e-4, 7e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0]
BATCH_CHOICES = [16, 32, 50, 64, 100, 128, 256, 512, 1024, 2048]
WIDTH_CHOICES = [8, 16, 32, 64, 100, 128, 256, 512, 1000, 1024, 2048]
DATASET_LABELS = {
    "mnist-5k": "mnist-5k — 5,000 MNIST digits (offline)",
    "digits": "digits — 1,797 8x8 digits (offline, tiny)",
    "mnist": "mnist — 70,000 digits (local files or download)",
    "fashion-mnist": "fashion-mnist — 70,000 clothing images",
    "cifar10": "cifar10 — 60,000 colour images, 10 classes",
    "cifar100": "cifar100 — 60,000 colour images, 100 classes",
}


def _key(page: str, name: str) -> str:
    return f"{page}__{name}"


def _help(name: str) -> str:
    return field_spec(name).metadata["help"]


def _choices(name: str) -> list:
    return list(field_spec(name).metadata["choices"])


def sync_from_url(page: str, page_params: tuple[str, ...] = ()) -> RunConfig:
    """Adopt the URL's configuration when the URL changed from outside this page's own writes."""
    params = st.query_params.to_dict()
    config_params = {k: v for k, v in params.items() if k not in page_params}
    signature = tuple(sorted(config_params.items()))
    state_key = f"{page}_cfg"
    if st.session_state.get(f"{page}_url_sig") != signature or state_key not in st.session_state:
        cfg, warnings = config_from_query(config_params)
        st.session_state[state_key] = cfg
        st.session_state[f"{page}_url_sig"] = signature
        st.session_state[f"{page}_warnings"] = warnings
        _load_widgets(page, cfg)
    return st.session_state[state_key]


def write_url(page: str, cfg: RunConfig, extra: dict[str, str] | None = None) -> None:
    """Rewrite the URL from the configuration (plus page parameters), remembering what we wrote."""
    params = config_to_query(cfg)
    st.session_state[f"{page}_url_sig"] = tuple(sorted(params.items()))
    params.update(extra or {})
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


def share_url(params: dict[str, str], page_path: str) -> str:
    """An absolute link to `page_path` with `params`, for copying."""
    from urllib.parse import urlencode

    try:
        base = st.context.url or ""
    except Exception:
        base = ""
    base = base.split("?")[0].rstrip("/")
    for suffix in ("/explore", "/compare", "/runs", "/theory", "/reproduce"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    query = urlencode(params)
    return f"{base}/{page_path}" + (f"?{query}" if query else "")


def _load_widgets(page: str, cfg: RunConfig) -> None:
    """Put the configuration's values into the widgets' session state (before they render)."""
    for name, value in cfg.to_dict().items():
        st.session_state[_key(page, name)] = value
    widths = list(cfg.widths)
    uniform = len(set(widths)) == 1
    st.session_state[_key(page, "widths_mode")] = "depth × width" if uniform else "list"
    st.session_state[_key(page, "depth")] = len(widths)
    st.session_state[_key(page, "width")] = widths[0]
    st.session_state[_key(page, "widths_text")] = " ".join(map(str, widths))


def _ensure(page: str, name: str, value) -> str:
    """The widget key of `name`, initialized from the configuration if the widget is new."""
    key = _key(page, name)
    if key not in st.session_state:
        st.session_state[key] = value
    return key


def _with_value(options: list, value) -> list:
    return options if value in options else sorted(options + [value])


def config_sidebar(page: str, page_params: tuple[str, ...] = ()) -> RunConfig | None:
    """Draw the configuration widgets in the sidebar; return the valid config or None."""
    cfg = sync_from_url(page, page_params)
    limits = active_limits()
    v: dict = {}
    sb = st.sidebar
    with sb.expander("Data", expanded=False):
        v["dataset"] = st.selectbox("dataset", _choices("dataset"), key=_ensure(page, "dataset", cfg.dataset),
                                    format_func=lambda d: DATASET_LABELS.get(d, d), help=_help("dataset"))
        v["train_subset"] = st.number_input("training samples (0 = all)", 0, 10_000_000, step=500,
                                            key=_ensure(page, "train_subset", cfg.train_subset),
                                            help=_help("train_subset"))
        v["standardize"] = st.checkbox("standardize inputs", key=_ensure(page, "standardize", cfg.standardize),
                                       help=_help("standardize"))
        v["input_noise"] = st.number_input("input noise std", 0.0, 10.0, step=0.01, format="%.3f",
                                           key=_ensure(page, "input_noise", cfg.input_noise),
                                           help=_help("input_noise"))
        v["augment"] = st.checkbox("augment (crop + flip)", key=_ensure(page, "augment", cfg.augment),
                                   help=_help("augment"))
    with sb.expander("Network", expanded=True):
        v["arch"] = st.radio("architecture", _choices("arch"), horizontal=True,
                             key=_ensure(page, "arch", cfg.arch), help=_help("arch"))
        if v["arch"] == "mlp":
            mode = st.radio("hidden layers", ["depth × width", "list"], horizontal=True,
                            key=_ensure(page, "widths_mode", "depth × width"))
            if mode == "depth × width":
                depth = st.slider("depth (hidden layers)", 1, limits.max_hidden_layers,
                                  key=_ensure(page, "depth", len(cfg.widths)))
                width_now = st.session_state.get(_key(page, "width"), cfg.widths[0])
                width = st.select_slider("width (units per layer)", _with_value(WIDTH_CHOICES, width_now),
                                         key=_ensure(page, "width", cfg.widths[0]))
                v["widths"] = (int(width),) * int(depth)
            else:
                v["widths"] = st.text_input("widths, input to output", key=_ensure(
                    page, "widths_text", " ".join(map(str, cfg.widths))), help=_help("widths"))
        else:
            v["vgg_blocks"] = st.slider("processing blocks per stage", 0, limits.max_vgg_blocks,
                                        key=_ensure(page, "vgg_blocks", cfg.vgg_blocks), help=_help("vgg_blocks"))
            v["vgg_filters"] = st.select_slider("filters", _with_value([4, 8, 16, 32, 64, 128], cfg.vgg_filters),
                                                key=_ensure(page, "vgg_filters", cfg.vgg_filters),
                                                help=_help("vgg_filters"))
            v["vgg_stages"] = st.slider("stages", 1, 4, key=_ensure(page, "vgg_stages", cfg.vgg_stages),
                                        help=_help("vgg_stages"))
        v["activation"] = st.selectbox("activation", _choices("activation"),
                                       key=_ensure(page, "activation", cfg.activation), help=_help("activation"))
        if v["activation"] == "leaky_relu":
            v["leaky_slope"] = st.number_input("leaky slope", 0.0, 1.0, step=0.01,
                                               key=_ensure(page, "leaky_slope", cfg.leaky_slope))
        v["init"] = st.selectbox("weight initialization", _choices("init"),
                                 key=_ensure(page, "init", cfg.init), help=_help("init"))
        bn_choices = [c for c in _choices("bn") if not (v["arch"] == "vgg" and c == "last")]
        bn_now = st.session_state.get(_key(page, "bn"), cfg.bn)
        if bn_now not in bn_choices:
            st.session_state[_key(page, "bn")] = "none"
        v["bn"] = st.selectbox("batch norm", bn_choices, key=_ensure(page, "bn", cfg.bn), help=_help("bn"))
        v["residual"] = st.checkbox("residual connections", key=_ensure(page, "residual", cfg.residual),
                                    help=_help("residual"))
        if v["residual"] and v["arch"] == "mlp":
            v["residual_every"] = st.slider("layers per residual block", 1, 8,
                                            key=_ensure(page, "residual_every", cfg.residual_every))
        v["dropout"] = st.slider("dropout", 0.0, 0.9, step=0.05, key=_ensure(page, "dropout", cfg.dropout),
                                 help=_help("dropout"))
        if v["dropout"] > 0:
            v["dropout_kind"] = st.radio("dropout kind", _choices("dropout_kind"), horizontal=True,
                                         key=_ensure(page, "dropout_kind", cfg.dropout_kind),
                                         help=_help("dropout_kind"))
    with sb.expander("Gradient noise", expanded=cfg.grad_noise > 0):
        v["grad_noise"] = st.number_input("eta (0 = off)", 0.0, 100.0, step=0.1, format="%.3f",
                                          key=_ensure(page, "grad_noise", cfg.grad_noise), help=_help("grad_noise"))
        if v["grad_noise"] > 0:
            v["noise_gamma"] = st.number_input("gamma", 0.0, 10.0, step=0.05,
                                               key=_ensure(page, "noise_gamma", cfg.noise_gamma),
                                               help=_help("noise_gamma"))
            v["noise_unit"] = st.radio("t counts", _choices("noise_unit"), horizontal=True,
                                       key=_ensure(page, "noise_unit", cfg.noise_unit), help=_help("noise_unit"))
    with sb.expander("Training", expanded=True):
        v["optimizer"] = st.selectbox("optimizer", _choices("optimizer"),
                                      key=_ensure(page, "optimizer", cfg.optimizer), help=_help("optimizer"))
        lr_now = st.session_state.get(_key(page, "lr"), cfg.lr)
        v["lr"] = st.select_slider("learning rate", _with_value(LR_CHOICES, lr_now),
                                   key=_ensure(page, "lr", cfg.lr), format_func=lambda x: f"{x:g}",
                                   help=_help("lr"))
        if v["optimizer"] == "sgd_momentum":
            v["momentum"] = st.number_input("momentum", 0.0, 0.999, step=0.05,
                                            key=_ensure(page, "momentum", cfg.momentum))
        v["schedule"] = st.radio("schedule", _choices("schedule"), horizontal=True,
                                 key=_ensure(page, "schedule", cfg.schedule), help=_help("schedule"))
        bs_now = st.session_state.get(_key(page, "batch_size"), cfg.batch_size)
        v["batch_size"] = st.select_slider("batch size", _with_value(BATCH_CHOICES, bs_now),
                                           key=_ensure(page, "batch_size", cfg.batch_size), help=_help("batch_size"))
        v["epochs"] = st.number_input("epochs", 1, limits.max_epochs, key=_ensure(page, "epochs", cfg.epochs),
                                      help=_help("epochs"))
        v["seed"] = st.number_input("seed", 0, 2**31 - 1, key=_ensure(page, "seed", cfg.seed), help=_help("seed"))
    with sb.expander("Advanced", expanded=False):
        v["weight_decay"] = st.number_input("weight decay", 0.0, 1.0, step=1e-4, format="%.5f",
                                            key=_ensure(page, "weight_decay", cfg.weight_decay),
                                            help=_help("weight_decay"))
        v["log_every"] = st.number_input("log statistics every k steps (0 = auto)", 0, 1_000_000,
                                         key=_ensure(page, "log_every", cfg.log_every), help=_help("log_every"))
        v["device"] = st.selectbox("device", _choices("device"), key=_ensure(page, "device", cfg.device),
                                   help=_help("device"))
    try:
        new = cfg.replace(**v)  # RunConfig coerces the widths text and checks every limit
    except ConfigError as exc:
        st.sidebar.error(str(exc))
        st.error(f"This configuration cannot run — {exc}")
        return None
    if new != cfg:
        st.session_state[f"{page}_cfg"] = new
        st.session_state[f"{page}_warnings"] = []
    return new


def show_url_warnings(page: str) -> None:
    warnings = st.session_state.get(f"{page}_warnings") or []
    if warnings:
        st.warning("Some link parameters were ignored:\n" + "\n".join(f"- {w}" for w in warnings))

