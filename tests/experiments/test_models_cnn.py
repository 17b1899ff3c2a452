"""The CNN builder: same seed, same initial kernels, whatever the norm."""

import numpy as np
import pytest

from experiments.models.cnn import GROUPS, build_cnn
from experiments.models.norms import convert_arguments

NORMS = ["none", "batch", "batch_renorm", "instance", "layer", "group"]


def _kernels(model):
    """Initial conv and dense kernels by layer name (the wrapped layer's under weight norm)."""
    kernels = {}
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        if hasattr(inner, "kernel"):
            kernels[inner.name] = np.array(inner.kernel)
    return kernels


def test_equal_seeds_give_equal_initial_kernels_across_norms():
    reference = _kernels(build_cnn((28, 28, 1), 10, "none", depth=4, seed=3))
    assert len(reference) == 1 + 4 * 2 + 2 + 1  # stem, blocks, projections, head
    for norm in [*NORMS[1:], "weight", "weight_meanbn"]:
        kernels = _kernels(build_cnn((28, 28, 1), 10, norm, depth=4, seed=3))
        assert kernels.keys() == reference.keys()
        for name, kernel in kernels.items():
            np.testing.assert_array_equal(kernel, reference[name], err_msg=f"{norm} {name}")
    other_seed = _kernels(build_cnn((28, 28, 1), 10, "none", depth=4, seed=4))
    assert not np.array_equal(other_seed["stem"], reference["stem"])


@pytest.mark.parametrize("norm", NORMS)
def test_every_convolution_is_followed_by_the_chosen_norm(norm):
    model = build_cnn((32, 32, 3), 10, norm, depth=2, seed=0)
    assert model(np.zeros((2, 32, 32, 3), "float32")).shape == (2, 10)
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    norms = [layer for layer in model.layers if layer.name.endswith(f"_{norm}")]
    assert len(norms) == (0 if norm == "none" else len(convs))
    assert all(conv.use_bias == (norm == "none") for conv in convs)


def test_batch_renorm_is_batch_norm_with_the_papers_clipping():
    model = build_cnn((28, 28, 1), 10, "batch_renorm", depth=1, seed=0)
    layers = [layer for layer in model.layers if layer.name.endswith("_batch_renorm")]
    assert layers and all(layer.renorm for layer in layers)
    assert layers[0].renorm_clipping == {"rmax": 3.0, "dmax": 5.0}  # rmin: 1 / rmax
    assert (
        {layer.momentum for layer in layers} == {layer.renorm_momentum for layer in layers} == {0.9}
    )


def test_convert_arguments_give_each_norm_through_keras_norms_convert():
    assert convert_arguments("group") == ("group", {})
    # The batch norms convert creates take the built-in models' momentum.
    assert convert_arguments("batch") == ("batch", {"momentum": 0.9})
    norm, options = convert_arguments("batch_renorm")
    assert norm == "batch" and options["renorm"] and options["momentum"] == 0.9
    with pytest.raises(ValueError, match="norm='bogus'"):
        convert_arguments("bogus")


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth=0"):
        build_cnn((28, 28, 1), 10, "none", depth=0)


def _norm_layers(model, norm):
    return [layer for layer in model.layers if layer.name.endswith(f"_{norm}")]


def test_group_and_layer_norm_as_the_group_norm_paper_has_them():
    group = _norm_layers(build_cnn((28, 28, 1), 10, "group", depth=3), "group")
    assert {(layer.groups, layer.input.shape[-1] // layer.groups) for layer in group} == {
        (GROUPS, 4),
        (GROUPS, 8),
        (GROUPS, 16),
    }
    # Layer norm over channels and positions together: one group, per-channel scale.
    model = build_cnn((28, 28, 1), 10, "layer", depth=1)
    [stem] = [layer for layer in _norm_layers(model, "layer") if layer.name == "stem_layer"]
    assert stem.groups == 1 and stem.gamma.shape == (16,)
    x = np.random.default_rng(0).normal(3.0, 2.0, (2, 14, 14, 16)).astype("float32")
    y = np.asarray(stem(x))
    np.testing.assert_allclose(y.mean(axis=(1, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(1, 2, 3)), 1.0, atol=1e-3)


def test_the_statistics_batch_is_batch_norms_ghost_batch():
    ghost = _norm_layers(build_cnn((28, 28, 1), 10, "batch", depth=1, stats_batch=4), "batch")
    whole = _norm_layers(build_cnn((28, 28, 1), 10, "batch", depth=1), "batch")
    assert ghost and {layer.virtual_batch_size for layer in ghost} == {4}
    assert {layer.virtual_batch_size for layer in whole} == {None}
    message = "stats_batch applies to batch norm only, got stats_batch=4 with norm='group'"
    with pytest.raises(ValueError, match=message):
        build_cnn((28, 28, 1), 10, "group", stats_batch=4)


def test_the_sigmoid_network_without_shortcuts():
    model = build_cnn((28, 28, 1), 10, "batch", depth=3, activation="sigmoid", shortcuts=False)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert "Add" not in kinds and not [layer for layer in model.layers if "_proj" in layer.name]
    activations = [layer for layer in model.layers if type(layer).__name__ == "Activation"]
    assert len(activations) == 7  # the stem and two per block
    assert {layer.activation.__name__ for layer in activations} == {"sigmoid"}
    assert model.name == "plain3_batch"


def test_dropout_sits_before_the_head():
    model = build_cnn((28, 28, 1), 10, "batch", depth=1, dropout=0.5)
    names = [layer.name for layer in model.layers]
    assert names[-3:] == ["pool", "dropout", "classifier"]
    assert model.get_layer("dropout").rate == 0.5
    assert "dropout" not in [layer.name for layer in build_cnn((28, 28, 1), 10, "batch").layers]
