"""Bad input never crashes anything: generated inputs against the config parser, the share-link
parser, the CLI and the Explore page. Every input gives a valid configuration within the hard
limits, or a clear message naming the field; nothing else escapes.

VG_LONG_TESTS=1 multiplies the number of generated inputs by 10.
"""
import json
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.base.config import ConfigError, RunConfig, active_limits, config_fields, display_name
from core.base.cost import estimate, reference_seconds
from core.views.links import config_from_query, config_to_query

LONG = os.environ.get("VG_LONG_TESTS") == "1"
N = 10_000 if LONG else 1_000
FIELDS = [f.name for f in config_fields()]
FIELD_NAMES = st.sampled_from(FIELDS)
NUMBERS = st.one_of(
    st.integers(min_value=-10**30, max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 2, -1, 1e-9, 0.5, 3e-4, 1e6, 2**31, 2**63, float("nan"), float("inf")]),
)
TEXTS = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="0123456789.-e+ ,x", max_size=20),
    st.sampled_from(["relu", "sigmoid", "he_normal", "true", "no", "512 256", "512-256", "1e3", "nan",
                     "inf", "-0", "vgg", "mlp", "cifar100", "digits", "last", "before", "", " ", "None",
                     "__import__('os').system('x')", "../../etc/passwd", "9" * 400]),
)
VALUES = st.one_of(NUMBERS, TEXTS, st.booleans(), st.none(),
                   st.lists(st.one_of(st.integers(-5, 5000), TEXTS), max_size=6))
CONFIG_DICTS = st.dictionaries(st.one_of(FIELD_NAMES, st.text(max_size=12)), VALUES, max_size=8)


def assert_within_limits(cfg: RunConfig) -> None:
    limits = active_limits()
    est = estimate(cfg)
    assert est.params <= limits.max_params
    assert est.memory_bytes <= limits.max_memory_bytes
    assert est.work <= limits.max_work
    assert cfg.epochs <= limits.max_epochs and cfg.batch_size <= limits.max_batch_size
    assert est.total_steps <= limits.max_steps and est.logged_values <= limits.max_logged_values
    assert est.eval_memory_bytes <= limits.max_memory_bytes
    assert reference_seconds(cfg) <= limits.max_seconds
    if cfg.arch == "mlp":
        assert 1 <= len(cfg.widths) <= limits.max_hidden_layers
    json.dumps(cfg.to_dict(), allow_nan=False)  # plain, finite values only


def assert_clear_message(exc: ConfigError, given_keys) -> None:
    text = str(exc)
    assert exc.field and text.startswith(f"{exc.field}: ")
    assert exc.field in FIELDS or exc.field in {display_name(k) for k in given_keys}
    assert "\n" not in text and len(text) < 600


@settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck))
@given(CONFIG_DICTS)
def test_config_parser_accepts_within_limits_or_names_the_field(data):
    try:
        cfg = RunConfig.from_dict(data)
    except ConfigError as exc:
        assert_clear_message(exc, data.keys())
        return
    assert_within_limits(cfg)


QUERY_VALUES = st.one_of(TEXTS, st.lists(TEXTS, min_size=1, max_size=3), NUMBERS.map(str))


@settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(st.one_of(FIELD_NAMES, st.text(max_size=12)), QUERY_VALUES, max_size=10))
def test_share_link_parser_never_fails_and_names_what_it_ignored(params):
    cfg, warnings = config_from_query(params)
    assert_within_limits(cfg)
    for w in warnings:
        assert ": " in w and "\n" not in w
    # a setting no warning names was taken exactly as the link gave it
    for key, raw in params.items():
        if key not in FIELDS or any(w.startswith(f"{key}:") or f"ignored {key}," in w for w in warnings):
            continue
        raw = raw[-1] if isinstance(raw, list) else raw
        alone = RunConfig.from_dict({key: raw.replace("-", " ") if key == "widths" else raw})
        assert getattr(cfg, key) == getattr(alone, key)


class Accepted(BaseException):
    """Raised by the stubbed store: the CLI accepted the input and would start training."""


CLI_TOKENS = st.one_of(
    st.sampled_from(["train", "list", "show", "delete", "--json", "--retrain", "-a", "-n", "-b", "-e", "--lr",
                     "--init", "--bn", "--dataset", "--arch", "--epochs", "--grad-noise", "--noise-gamma",
                     "--input-noise", "--optimizer", "--widths", "--vgg-blocks", "--batch_size", "--seed",
                     "--standardize", "--no-residual", "--device", "--log-every", "--help-me", "--", "-",
                     "sweep", "--vary", "--values", "--seeds", "--baseline", "--format", "activation"]),
    TEXTS, NUMBERS.map(str))


@settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck))
@given(argv=st.lists(CLI_TOKENS, max_size=10))
def test_cli_exits_0_or_2_with_one_line_and_never_a_traceback(monkeypatch_session, capsys, argv):
    from core import cli

    capsys.readouterr()  # drop what earlier examples printed
    try:
        code = cli.main(argv)
    except Accepted as accepted:
        assert_within_limits(accepted.args[0])
        return
    except SystemExit as exc:  # argparse's --help
        assert exc.code == 0
        return
    out = capsys.readouterr()
    assert code in (0, 2), (argv, out)
    assert "Traceback" not in out.err
    if code == 2:
        lines = out.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), out.err


@pytest.fixture(scope="module")
def monkeypatch_session(tmp_path_factory):
    """The CLI runs against an empty store; a request to train stops at the store."""
    from core.runs import runner

    mp = pytest.MonkeyPatch()
    mp.setenv("VG_CACHE_DIR", str(tmp_path_factory.mktemp("fuzz-cache")))

    def refuse(store, configs, **kwargs):
        raise Accepted(configs[0])

    mp.setattr(runner, "get_or_train", refuse)
    yield mp
    mp.undo()


@settings(max_examples=40 if LONG else 12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(st.one_of(FIELD_NAMES, st.text(max_size=8)), TEXTS, max_size=6))
def test_explore_page_survives_any_link(params):
    from apptest_helpers import open_page

    clean = {k: v for k, v in params.items() if "\x00" not in k + v}
    at = open_page("pages/explore.py", clean)
    assert not at.exception, [e.value for e in at.exception]
    cfg = at.session_state["explore_cfg"]
    assert_within_limits(cfg)
    assert not any(b.label.startswith("Training") for b in at.button)  # a link never starts work


# ---------------------------------------------------------------- one experiment, one run id
def _float_spellings(x: float):
    """Ways a URL, the CLI or a stored file may write the float x."""
    out = [x, repr(x), f"{x:e}", f" {x!r} ", f"{x:.17g}", str(x).upper()]
    if x == 0:
        out += [-0.0, "-0", "-0.0", "-0e0", "+0", "0e5", 0]
    if x == int(x):
        out += [int(x), f"{int(x)}", f"{int(x)}.0", f"{int(x)}e0"]
    return st.sampled_from(out)


def _int_spellings(n: int):
    return st.sampled_from([n, float(n), str(n), f"{n}.0", f"{n}e0", f" {n} ", f"+{n}"] + (["-0", -0.0] if n == 0 else []))


def _choice_spellings(name: str, value: str):
    from core.base.config.values import _ALIASES

    out = [value, value.upper(), f" {value} ", value.title()]
    out += [value.replace("_", "-")] if name != "dataset" else [value.replace("-", "_")]
    out += [alias for alias, target in _ALIASES.get(name, {}).items() if target == value]
    return st.sampled_from(out)


_FLAG_SPELLINGS = {True: [True, "true", "yes", "on", "1", 1, "Y", " TRUE "],
                   False: [False, "false", "no", "off", "0", 0, "n", " False "]}


def _spellings(name: str, value):
    """A strategy of values that mean exactly `value` for field `name`."""
    if isinstance(value, bool):
        return st.sampled_from(_FLAG_SPELLINGS[value])
    if isinstance(value, tuple):
        return st.sampled_from([value, list(value), " ".join(map(str, value)), ",".join(map(str, value)),
                                [float(v) for v in value], " , ".join(f"{v}.0" for v in value)])
    if isinstance(value, int):
        return _int_spellings(value)
    if isinstance(value, float):
        return _float_spellings(value)
    return _choice_spellings(name, value)


# A base value per field: defaults, zeros (signed zero), round floats (1e-2 = 0.01) and choices.
BASE_VALUES = {
    "grad_noise": st.sampled_from([0.0, 0.01, 0.5, 1.0]), "weight_decay": st.sampled_from([0.0, 1e-4, 0.01]),
    "dropout": st.sampled_from([0.0, 0.5]), "input_noise": st.sampled_from([0.0, 0.05, 1.0]),
    "lr": st.sampled_from([0.01, 1e-3, 1.0, 0.1]), "momentum": st.sampled_from([0.0, 0.9]),
    "noise_gamma": st.sampled_from([0.0, 0.55, 1.0]), "leaky_slope": st.sampled_from([0.0, 0.01, 0.2]),
    "activation": st.sampled_from(["logistic", "leaky_relu", "swish", "linear", "relu"]),
    "init": st.sampled_from(["glorot_uniform", "he_normal", "torch_default", "zeros"]),
    "optimizer": st.sampled_from(["sgd_momentum", "adam", "sgd"]), "bn": st.sampled_from(["none", "before"]),
    "dataset": st.sampled_from(["mnist-5k", "digits", "fashion-mnist"]),
    "widths": st.sampled_from([(16, 16), (8,), (32, 16, 8)]), "epochs": st.sampled_from([1, 2]),
    "batch_size": st.sampled_from([32, 64]), "seed": st.sampled_from([0, 7]), "log_every": st.sampled_from([0, 5]),
    "residual": st.booleans(), "standardize": st.booleans(), "train_subset": st.sampled_from([0, 500]),
}


@st.composite
def equal_config_pairs(draw):
    """Two dicts spelling one configuration differently, field by field."""
    names = draw(st.lists(st.sampled_from(sorted(BASE_VALUES)), unique=True, min_size=1, max_size=8))
    chosen = {n: draw(BASE_VALUES[n]) for n in names}
    return ({n: draw(_spellings(n, v)) for n, v in chosen.items()},
            {n: draw(_spellings(n, v)) for n, v in chosen.items()})


@settings(max_examples=N // 2, deadline=None, suppress_health_check=list(HealthCheck))
@given(equal_config_pairs())
def test_equal_configs_have_one_run_id_and_one_share_link(pair):
    try:
        a = RunConfig.from_dict(pair[0])
    except ConfigError:
        return  # a combination beyond the limits is refused whichever way it is spelled
    b = RunConfig.from_dict(pair[1])
    assert a == b
    assert a.run_id == b.run_id and a.canonical_json() == b.canonical_json()
    assert config_to_query(a) == config_to_query(b)
    again, warnings = config_from_query(config_to_query(a))
    assert not warnings and again.run_id == a.run_id


@pytest.mark.parametrize("name", ["grad_noise", "weight_decay", "dropout", "input_noise", "momentum"])
@pytest.mark.parametrize("zero", ["-0.0", "-0", "-0e0", -0.0])
def test_negative_zero_is_zero(name, zero):
    cfg = RunConfig.from_dict({name: zero})
    assert math.copysign(1.0, getattr(cfg, name)) == 1.0
    assert cfg.run_id == RunConfig.from_dict({name: 0.0}).run_id
    assert config_from_query({name: str(zero)})[0].run_id == cfg.run_id
