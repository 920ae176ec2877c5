"""Explore and Theory with the signal-propagation theory, through AppTest."""
from apptest_helpers import TINY, charts, fresh_app_caches, open_page, texts  # noqa: F401


def _marks(at) -> str:
    return " ".join(str(c.spec) for c in charts(at))


def test_explore_shows_prediction_chart_verdict_and_jacobian():
    at = open_page("pages/explore.py", dict(TINY, widths="16-16-16", init_gain="1.2", bias_std="0.1"))
    assert not at.exception
    words = texts(at)
    assert "Predict before training" in words
    assert "the theory predicts the squared gradient norm" in words and "measured" in words
    assert "phase" in words and "(χ₁ = " in words
    spec = _marks(at)
    assert "activation variance" in spec and "gradient RMS" in spec and "predicted" in spec
    assert "singular value" in spec and "mean squared singular value" in words


def test_explore_says_the_theory_does_not_apply_to_batch_norm():
    at = open_page("pages/explore.py", dict(TINY, bn="before"))
    assert not at.exception
    assert "does not apply" in texts(at) and "batch norm" in texts(at)


def test_theory_page_phase_map_sliders_and_isometry():
    at = open_page("pages/theory.py")
    assert not at.exception
    spec = _marks(at)
    assert "weight variance" in spec and "(bias variance)" in spec and "sigma_w2_end" in spec
    assert "singular value" in spec
    words = texts(at)
    assert "tanh, orthogonal, critical" in words and "condition" in words
    assert "the theory predicts" in words and "the black line is the critical line" in words
    before = next(s for s in at.slider if s.label.startswith("σ_w²"))
    before.set_value(3.0).run()
    assert not at.exception
    assert "Chaotic phase" in texts(at) and "What do these words mean?" in [e.label for e in at.expander]
    assert "gain 1.7321 on glorot_uniform" in texts(at)  # sqrt(3 / 1): the point moved to sigma_w2 = 3


def test_explore_shows_the_jacobian_spectrum_of_a_stored_run_from_its_final_weights(isolated_cache):
    """After training, the spectrum comes from the stored weights: the caption's mean squared
    singular value is the one core.engine.jacobian computes from them, not the fresh network's."""
    from core.base.datasets import DATASET_INFO
    from core.engine.data import prepare_data
    from core.engine.jacobian import jacobian_spectrum
    from core.engine.loop import train
    from core.engine.models import build_model
    from core.runs.store import RunStore
    from core.views.links import config_from_query
    from pages.theory_views import JACOBIAN_BATCH

    cfg, _ = config_from_query(dict(TINY, epochs="3", lr="0.1"))
    store = RunStore(isolated_cache)
    store.save(train(cfg))
    at = open_page("pages/explore.py", dict(TINY, epochs="3", lr="0.1"))
    assert not at.exception
    caption = next(c.value for c in at.caption if "after training: mean squared singular value" in c.value)
    net = build_model(cfg, DATASET_INFO[cfg.dataset])
    net.load_state_dict(store.load(cfg.run_id, weights=True).state_dict)
    x = prepare_data(cfg, "cpu", allow_download=False).x_train[:JACOBIAN_BATCH]
    trained = jacobian_spectrum(net, x).mean_sq
    fresh = jacobian_spectrum(build_model(cfg, DATASET_INFO[cfg.dataset]), x).mean_sq
    assert f"after training: mean squared singular value {trained:.3g}" in caption
    assert f"{trained:.3g}" != f"{fresh:.3g}"


def test_a_diverged_runs_jacobian_is_refused_in_words_not_by_lapack(isolated_cache):
    """A run whose weights became NaN: the 'after training' spectrum says the weights are not
    finite (numpy's 'SVD did not converge' was shown before)."""
    from core.engine.loop import train
    from core.lab.scenarios import SCENARIOS
    from core.runs.store import RunStore
    from core.views.links import config_to_query

    diverged = next(s.config for s in SCENARIOS if s.key == "relu-normal-explodes").replace(epochs=1)
    RunStore(isolated_cache).save(train(diverged))
    at = open_page("pages/explore.py", config_to_query(diverged), timeout=120)
    assert not at.exception
    warned = " ".join(w.value for w in at.warning)
    assert "Jacobian after training: the stored weights are not finite" in warned
    assert "did not converge" not in texts(at)
