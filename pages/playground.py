"""Playground: a small network on 2-D data, trained live; what it computes and how its gradients flow."""

import time

import streamlit as st

from core.runs.playground import check_playground
from core.base.config import ConfigError
from core.views.boundary import layer_charts, layers_frame, loss_chart, neurons_image, plane_image
from core.views.links import config_to_query
from core.views.markup import inert
from pages.config_ui import share_url, show_url_warnings, write_url
from pages.draw import live_fragment
from pages.playground_ui import data_upload, dataset_caption, get_playground, link_config, playground_controls
from pages.services import require_app, session_id

REDRAW_SECONDS = 0.3
INSTRUMENTS_SECONDS = 1.0  # the per-layer chart is rebuilt at most this often
PAGE = "playground"
REFUSED = "pg_refused"  # (cfg, why) of the last Start refused
# Blocks side by side while each has its least width, else one under the other (Streamlit's
# columns keep side by side down to 640 px: at 800 px the controls were 93 px wide and broke
# words, the loss chart 121 px). The controls are a grid: one column beside the charts, two or
# three across when above them.
LAYOUT_CSS = """<style>
.st-key-pg-layout, .st-key-pg-top, .st-key-pg-layers { flex-wrap: wrap !important; }
.st-key-pg-controls { display: grid !important; align-items: start; column-gap: 1.5rem;
  grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); }
.st-key-pg-controls > div:has(details), .st-key-pg-controls > div:has(h5) { grid-column: 1 / -1; }
div:has(> .st-key-pg-controls) { flex: 1 1 230px !important; min-width: 230px; }
div:has(> .st-key-pg-main) { flex: 4 1 440px !important; min-width: 0; }
div:has(> .st-key-pg-plane) { flex: 3 1 300px !important; min-width: 0; }
div:has(> .st-key-pg-loss) { flex: 1 1 200px !important; min-width: 0; }
div:has(> .st-key-pg-neurons) { flex: 0 0 auto !important; }
div:has(> .st-key-pg-stats) { flex: 1 1 420px !important; min-width: 0; }
</style>"""

require_app()
st.title("Playground")
st.caption("A small network on 2-D data, trained live: the decision boundary, a few neurons' outputs "
           "over the input plane per layer, and beside them this app's instruments per layer. "
           "Try a deep sigmoid network (8 layers, logistic), then the same with batch norm, or ReLU + He.")
cfg = link_config(PAGE)  # a link without 2-D data or a small network: the Playground's own defaults
notices = st.container()  # the link's warnings, drawn once the controls have said whether they are answered

st.html(LAYOUT_CSS)
with st.container(horizontal=True, gap="medium", key="pg-layout"):
    left, main = st.container(key="pg-controls"), st.container(key="pg-main")
with left:
    st.markdown("##### Network")  # a subheader breaks inside the word in a narrow column
    cfg = playground_controls(PAGE, cfg)
    if cfg is not None:
        data_upload(PAGE)
with notices:
    show_url_warnings(PAGE)
if cfg is None:
    st.stop()
try:
    check_playground(cfg)
except ConfigError as exc:
    st.error(f"This configuration cannot train live — {inert(exc)}")
    st.stop()
write_url(PAGE, cfg)
with left:
    with st.expander("Share this experiment"):
        st.code(share_url(config_to_query(cfg), PAGE).replace(f"/{PAGE}/{PAGE}", f"/{PAGE}"), language=None)
        st.caption("The link reopens this data, noise, seed and network. Open the same configuration "
                   "in Explore to train it for its epochs and keep the run.")


def _controls(hub, sid, live, cfg) -> str | None:
    """Start/Pause, Step, Reset; the refusal of a Start (the server's cap on networks training at
    once), kept in the session and shown on every redraw until the next button or setting: the
    view is redrawn every REDRAW_SECONDS, which would wipe a message drawn once."""
    b1, b2, b3 = st.columns(3)
    running, refused = live.running, None
    run = b1.button("Pause" if running else "Start", icon=":material/pause:" if running else ":material/play_arrow:",
                    key="pg_run", type="secondary" if running else "primary", width="stretch")
    step = b2.button("Step", icon=":material/skip_next:", key="pg_step", disabled=live.running, width="stretch")
    reset = b3.button("Reset", icon=":material/restart_alt:", key="pg_reset", width="stretch")
    if run or step or reset:
        st.session_state.pop(REFUSED, None)
    if run and running:
        live.pause()
    elif run:
        refused = hub.start(sid)
    if step:
        live.step_once()
    if reset:
        live.reset()
    if refused:
        st.session_state[REFUSED] = (cfg, refused)
    kept = st.session_state.get(REFUSED)
    if kept is None or kept[0] != cfg:  # a setting changed since: answered
        st.session_state.pop(REFUSED, None)
        return None
    st.warning(inert(kept[1]), icon=":material/block:")
    return kept[1]


@live_fragment("playground", REDRAW_SECONDS)
def live_view(cfg) -> None:
    """Redrawn a few times a second; it only reads the session's latest frame (the training
    runs in a worker process), and each read tells the worker the page still watches."""
    hub, sid = get_playground(), session_id()
    try:
        live = hub.get(sid, cfg)
    except Exception as exc:  # the data could not be loaded (e.g. an upload removed meanwhile)
        st.error(f"The Playground cannot build this network — {inert(exc)}")
        return
    refused = _controls(hub, sid, live, cfg)  # the full width of the page: labels stay whole at 800 px
    with st.container(horizontal=True, gap="medium", key="pg-top"):
        top_left, top_right = st.container(key="pg-plane"), st.container(key="pg-loss")
    with top_left:
        f = live.frame
        state = ("starting the training process…" if live.starting else "training" if f.running
                 else "not started (see above)" if refused else "paused")
        rate = f" · {f.steps_per_second:,.0f} steps/s" if f.running and f.steps_per_second else ""
        st.markdown(f"**step {f.step:,}** · epoch {f.epoch} · {state}{rate}")
        st.markdown(f"train loss **{f.train_loss:.3f}** (accuracy {f.train_acc:.0%}) · "
                    f"test loss **{f.test_loss:.3f}** (accuracy {f.test_acc:.0%})")
        if f.note:
            st.info(f.note)
        if f.probs is not None:
            p = live.points()
            st.image(plane_image(f.probs, f.plane, [(p["train_x"], p["train_y"], True),
                                                    (p["test_x"], p["test_y"], False)]),
                     caption=f"{dataset_caption(cfg)}: the colour is the predicted class (paler = "
                     "less sure); dots are training points, rings test points", width="stretch")
        else:
            st.caption("This data has more than two features: no input plane to draw; the loss and "
                       "the instruments per layer still update.")
    with top_right:
        st.altair_chart(loss_chart(f.history), width="stretch")
        st.caption("Loss by step: training (grey) and test (orange).")
    with st.container(horizontal=True, gap="small", key="pg-layers"):
        pics, stats = st.container(key="pg-neurons", width="content"), st.container(key="pg-stats")
    names = [row["name"] for row in f.layers]
    if f.neurons:
        pics.markdown("**neurons over the plane**")
        pics.image(neurons_image(f.neurons, names), width="content")
    for column, chart in zip(stats.columns(3, gap="small"), _instruments(f.layers)):
        column.altair_chart(chart, width="stretch")
    st.caption("Per layer, input at the top. Neurons: each picture is one unit's output over the "
               "plane (orange below its mean, blue above, white = flat: it computes nothing). "
               "Gradient flow: mean |∂loss/∂w| on a log scale; saturated (sigmoid, tanh) or dead "
               "(ReLU) share of the units; update ratio ||ΔW||/||W|| of the last logged step.")


def _instruments(layers):
    """The per-layer chart, rebuilt when the statistics changed, at most once a second (they are
    logged ~5 times a second; building an Altair chart is most of a redraw's cost)."""
    key, now = repr(layers), time.monotonic()
    cached = st.session_state.get("pg_instruments")
    if cached is None or (cached[0] != key and now - cached[2] > INSTRUMENTS_SECONDS):
        cached = (key, layer_charts(layers_frame(layers)), now)
        st.session_state["pg_instruments"] = cached
    return cached[1]


with main:
    live_view(cfg)
