"""One table per kind: the config's names, the catalogue's entries and the engine's constructors
are the same names, and each constructor does what its entry declares."""
import math

import pytest
import torch

from core.base import catalogue
from core.base.config import ACTIVATIONS, INITS, OPTIMIZERS, RunConfig
from core.engine import activations, inits, step


def test_every_kind_has_one_table_of_names():
    assert ACTIVATIONS == tuple(catalogue.ACTIVATION_TABLE) == tuple(activations._TORCH)
    assert tuple(activations.ACTIVATION_SPECS) == ACTIVATIONS
    assert INITS == tuple(catalogue.INIT_TABLE)
    assert {i.draw for i in catalogue.INIT_TABLE.values()} == set(inits._DRAW) | {catalogue.LAYER_DEFAULT}
    assert OPTIMIZERS == tuple(catalogue.OPTIMIZER_TABLE) == tuple(step._OPTIMIZERS)
    assert set(catalogue.FAMILY_INIT.values()) <= set(INITS)
    assert {a.suited_init for a in catalogue.ACTIVATION_TABLE.values()} <= set(catalogue.FAMILY_INIT)


@pytest.mark.parametrize("name", INITS)
def test_each_init_draws_the_variance_its_entry_declares(name):
    w = torch.empty(400, 300)
    gen = torch.Generator().manual_seed(0)
    if catalogue.INIT_TABLE[name].draw == catalogue.LAYER_DEFAULT:
        torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=gen)  # what nn.Linear does
    else:
        inits.init_weight_(w, name, gen)
    expected = inits.expected_variance(name, 300, 400)
    assert float(w.var(unbiased=False) + w.mean() ** 2) == pytest.approx(expected, rel=0.03, abs=1e-12)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_optimizer_is_built_with_its_entry(name):
    opt = step.make_optimizer(RunConfig(optimizer=name), [torch.nn.Parameter(torch.zeros(2))])
    entry = catalogue.OPTIMIZER_TABLE[name]
    group = opt.param_groups[0]
    assert group.get("eps") == entry.eps and (group.get("momentum", 0) > 0) == entry.momentum


def test_datasets_have_one_table_and_a_reader_per_loader_kind():
    from core.base import datasets
    from core.base.config import DATASETS
    from core.engine import data, toydata

    assert DATASETS == tuple(datasets.CATALOGUE)
    kinds = {d.loader for d in datasets.CATALOGUE.values()}
    assert kinds == set(data._READERS) | {datasets.BUILTIN, datasets.GENERATED}
    assert tuple(toydata._MAKERS) == datasets.TOY == toydata.GENERATORS
