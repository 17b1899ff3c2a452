"""Synchronized BatchNormalization inside `model.fit`, with XLA, masks and ghost batches.

Two logical CPUs under a MirroredStrategy, in a subprocess (logical devices
must be set up before TensorFlow starts). The replicas see samples of
different distributions and different numbers of padded steps, so their local
statistics differ from the global batch's; the moving statistics after one
step at momentum 0 must be the global batch's, computed in NumPy.

XLA: TensorFlow cannot compile a step under a MirroredStrategy whose replicas
are separate devices (even a plain Dense model fails with "Trying to access
resource ... located in device CPU:1 from device CPU:0", XLA's known issue
with variables on another device), so the compiled case runs the
synchronized layer on one replica, where its cross-replica path must trace
under XLA and give the batch's statistics.
"""

from tests.layers.backend_utils import run_on_two_cpus, tensorflow_only

SCRIPT = """
    import itertools
    import numpy as np
    import keras
    import keras_norms

    rng = np.random.RandomState(0)
    x = rng.normal(1.0, 2.0, size=(8, 5, 3)).astype("float32")
    x[4:] = x[4:] * 4.0 + 3.0  # the second replica's samples
    lengths = np.array([5, 5, 4, 2, 3, 1, 5, 2])
    padded = np.arange(5)[None, :] >= lengths[:, None]


    def expected(x, mask, ghost, replicas):
        # Ghost group g: samples 2g and 2g+1 of every replica's share.
        members = [range(8)]
        if ghost and replicas == 2:
            members = [[0, 1, 4, 5], [2, 3, 6, 7]]
        elif ghost:
            members = [[0, 1], [2, 3], [4, 5], [6, 7]]
        means, variances = [], []
        for m in members:
            values = x[list(m)][mask[list(m)]].astype(np.float64)
            if len(values):
                means.append(values.mean(axis=0))
                variances.append(values.var(axis=0))
        return np.mean(means, axis=0), np.mean(variances, axis=0)


    cases = {
        "plain": np.zeros_like(padded),
        "mask": padded,
        # Every step of the second group is padded: left out of the average.
        "ghost_group_padded": padded | np.isin(np.arange(8), [2, 3, 6, 7])[:, None],
        # The second replica is fully padded: the first one's statistics rule.
        "replica_padded": padded | (np.arange(8) >= 4)[:, None],
    }
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    for (name, pad), ghost, jit in itertools.product(
            cases.items(), (False, True), (False, True)):
        strategy = tf.distribute.get_strategy() if jit else mirrored
        inputs = np.where(pad[..., None], 0.0, x).astype("float32")
        results = {}
        for synchronized in (True, False):
            with strategy.scope():
                norm = keras_norms.BatchNormalization(
                    synchronized=synchronized, momentum=0.0,
                    virtual_batch_size=2 if ghost else None)
                model = keras.Sequential([
                    keras.Input((5, 3)), keras.layers.Masking(0.0), norm])
                model.compile("sgd", "mse", jit_compile=jit)
            model.fit(inputs, inputs, batch_size=8, epochs=1, shuffle=False,
                      verbose=0)
            for variable in norm.non_trainable_weights if not jit else ():
                copies = [v.numpy() for v in variable.value.values]
                np.testing.assert_allclose(copies[0], copies[1])
            results[synchronized] = [
                norm.moving_mean.numpy(), norm.moving_variance.numpy()]
        label = f"{name} ghost={ghost} jit={jit}"
        mean, variance = expected(x, ~pad, ghost, 1 if jit else 2)
        np.testing.assert_allclose(results[True][0], mean, rtol=1e-4,
                                   err_msg=label)
        np.testing.assert_allclose(results[True][1], variance, rtol=1e-4,
                                   err_msg=label)
        if not jit:
            # Per-replica statistics would not pass: the check can fail.
            assert not np.allclose(results[False][1], variance, rtol=1e-2), label
        print("ok", label)
    print("SYNCHRONIZED FIT OK")
    """


@tensorflow_only
def test_synchronized_statistics_in_fit_with_xla_masks_and_ghost_batches():
    run_on_two_cpus(SCRIPT, "SYNCHRONIZED FIT OK", timeout=500)
