"""The batch norm paper's fully connected network: same seed, same initial
kernels, whatever the norm; the norm after every hidden layer."""

import keras
import numpy as np
import pytest

from experiments.models.mlp import WIDTH, build_mlp
from experiments.models.norms import MLP_NORMS


def _kernels(model):
    """Initial dense kernels by layer name (the wrapped layer's under weight norm)."""
    return {
        inner.name: np.array(inner.kernel)
        for inner in (getattr(layer, "layer", layer) for layer in model.layers)
        if hasattr(inner, "kernel")
    }


def test_equal_seeds_give_equal_initial_kernels_across_norms():
    reference = _kernels(build_mlp((28, 28, 1), 10, "none", seed=3))
    assert {name: kernel.shape for name, kernel in reference.items()} == {
        "dense1": (784, WIDTH),
        "dense2": (WIDTH, WIDTH),
        "dense3": (WIDTH, WIDTH),
        "classifier": (WIDTH, 10),
    }
    for norm in MLP_NORMS[1:]:
        kernels = _kernels(build_mlp((28, 28, 1), 10, norm, seed=3))
        assert kernels.keys() == reference.keys()
        for name, kernel in kernels.items():
            np.testing.assert_array_equal(kernel, reference[name], err_msg=f"{norm} {name}")
    assert not np.array_equal(
        _kernels(build_mlp((28, 28, 1), 10, "none", seed=4))["dense1"], reference["dense1"]
    )


@pytest.mark.parametrize("norm", MLP_NORMS)
def test_every_hidden_layer_is_normalized_then_activated(norm):
    model = build_mlp((28, 28, 1), 10, norm, depth=2, activation="sigmoid")
    outputs = model(np.random.default_rng(0).random((4, 28, 28, 1), "float32"))
    assert outputs.shape == (4, 10)
    np.testing.assert_allclose(np.sum(outputs, axis=1), 1.0, rtol=1e-5)
    names = [layer.name for layer in model.layers]
    assert [n for n in names if n.endswith("_sigmoid")] == ["dense1_sigmoid", "dense2_sigmoid"]
    if norm in ("none", "weight"):
        return  # weight norm wraps the dense layer itself
    normalized = [n for n in names if n.endswith(f"_{norm}")]
    assert normalized == ["dense1_" + norm, "dense2_" + norm]
    for name in normalized:  # each right before its layer's activation
        assert names[names.index(name) + 1] == name.split("_")[0] + "_sigmoid"


def test_norms_without_positions_and_a_zero_depth_are_refused():
    for norm in ("instance", "group"):
        with pytest.raises(ValueError, match=f"norm='{norm}'"):
            build_mlp((28, 28, 1), 10, norm)
    with pytest.raises(ValueError, match="depth=0"):
        build_mlp((28, 28, 1), 10, "none", depth=0)


def test_dropout_follows_every_hidden_layer_and_only_in_training():
    model = build_mlp((28, 28, 1), 10, "batch", depth=2, dropout=0.5)
    names = [layer.name for layer in model.layers]
    assert [n for n in names if n.endswith("_dropout")] == ["dense1_dropout", "dense2_dropout"]
    assert names.index("dense1_dropout") == names.index("dense1_sigmoid") + 1
    x = np.random.default_rng(0).random((8, 28, 28, 1), "float32")
    np.testing.assert_array_equal(model(x, training=False), model(x, training=False))
    assert not np.allclose(model(x, training=True), model(x, training=False))
    plain = build_mlp((28, 28, 1), 10, "none")
    assert not any(layer.name.endswith("_dropout") for layer in plain.layers)


def test_residual_layers_add_their_input_after_the_first():
    model = build_mlp((28, 28, 1), 10, "batch", depth=3, activation="relu", residual=True)
    assert [layer.name for layer in model.layers if layer.name.endswith("_shortcut")] == [
        "dense2_shortcut",
        "dense3_shortcut",
    ]
    assert model.name == "resmlp3_batch"
    names = ("dense1_relu", "dense2_relu", "dense2_shortcut")
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    first, second, added = probe(np.random.default_rng(0).random((4, 28, 28, 1), "float32"))
    np.testing.assert_allclose(added, np.asarray(first) + np.asarray(second), rtol=1e-6)


def test_scaled_init_keeps_the_variance_through_the_activation():
    def stddev(init, activation):
        model = build_mlp((28, 28, 1), 10, "none", activation=activation, init=init, seed=1)
        return float(np.std(_kernels(model)["dense2"]))

    assert stddev("paper", "relu") == pytest.approx(0.1, rel=0.03)
    # He over Glorot on a 100 x 100 layer: sqrt(2 / 100) / sqrt(2 / 200).
    assert stddev("scaled", "relu") / stddev("scaled", "tanh") == pytest.approx(2**0.5, rel=0.05)
    with pytest.raises(ValueError, match="init='xavier'"):
        build_mlp((28, 28, 1), 10, "none", init="xavier")


def test_depth_scaled_init_divides_each_branch_by_the_branches():
    def kernels(init):
        model = build_mlp(
            (28, 28, 1), 10, "none", depth=5, activation="relu", residual=True, init=init, seed=2
        )
        return _kernels(model)

    scaled, depth_scaled = kernels("scaled"), kernels("depth-scaled")
    # The first hidden layer is not a branch: He, as under "scaled".
    np.testing.assert_allclose(depth_scaled["dense1"], scaled["dense1"])
    for name in ("dense2", "dense3", "dense4", "dense5"):
        # Four branches: the same draws (same seed), a quarter of He's.
        np.testing.assert_allclose(depth_scaled[name], scaled[name] / 4, rtol=1e-5, atol=1e-7)
    # He's standard deviation on 100 inputs (Keras widens the truncated draws to it).
    assert np.std(scaled["dense3"]) == pytest.approx((2 / 100) ** 0.5, rel=0.05)
    with pytest.raises(ValueError, match="residual=False"):
        build_mlp((28, 28, 1), 10, "none", init="depth-scaled")
