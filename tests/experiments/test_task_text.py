"""The text task: the generated language against its rule written out, batch
norm's statistics without the padding against NumPy, and runs end to end."""

import keras
import mlflow
import numpy as np
import pytest

from experiments.cli import main
from experiments.data import language
from experiments.models.text import build_text_classifier
from experiments.tasks import TASKS
from experiments.tasks.base import SPLIT_STREAM

TINY = {"epochs": 2, "batch_size": 32, "train_size": 128, "val_size": 64, "test_size": 128}
SMALL_MODEL = ["--width", "8", "--heads", "2", "--blocks", "1", "--max-len", "16"]


def _label(sentence):
    """The language's rule, one token at a time."""
    total, negated = 0, False
    for token in sentence:
        if token == language.NOT:
            negated = not negated
        elif language.FIRST_POSITIVE <= token < language.FIRST_FILLER:
            polarity = 1 if token < language.FIRST_NEGATIVE else -1
            total += -polarity if negated else polarity
            negated = False
    assert total != 0
    return int(total > 0)


def test_sentences_follow_the_rule_and_the_padding_convention():
    tokens, labels = language.sentiment_sentences(2000, max_len=20, seed=[3, 1])
    assert tokens.shape == (2000, 20) and tokens.dtype == np.int32 and labels.dtype == np.int32
    lengths = (tokens != language.PAD).sum(axis=1)
    assert lengths.min() >= language.MIN_LEN and lengths.max() == 20
    # Padding only after the sentence: each row is its tokens, then zeros.
    for row, length in zip(tokens, lengths):
        assert (row[:length] != language.PAD).all() and (row[length:] == language.PAD).all()
    assert [_label(row[row != language.PAD]) for row in tokens] == labels.tolist()
    assert 0.45 < labels.mean() < 0.55
    # Negation matters: the sign of the raw count misses some labels.
    raw = language.polarity_sums(np.where(tokens == language.NOT, language.PAD, tokens))
    assert 0.5 < np.mean((raw > 0) == labels) < 0.9
    # Zipfian fillers: the commonest is far commoner than the hundredth.
    counts = np.bincount(tokens.ravel(), minlength=language.VOCABULARY)[language.FIRST_FILLER :]
    assert counts[0] > 20 * counts[99]


def test_the_same_seed_gives_the_same_sentences():
    first = language.sentiment_sentences(50, seed=[1, 2])
    again = language.sentiment_sentences(50, seed=[1, 2])
    other = language.sentiment_sentences(50, seed=[1, 3])
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"count": 0}, "count must be a positive int. Received: count=0"),
        ({"count": 5, "max_len": 7}, "max_len must be at least 8. Received: max_len=7"),
        ({"count": 5, "max_len": 9.0}, "max_len must be an int. Received: max_len=9.0"),
    ],
)
def test_bad_arguments_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        language.sentiment_sentences(**arguments)


def test_batch_norm_takes_its_statistics_over_the_tokens_not_the_padding():
    model = build_text_classifier("batch", language.VOCABULARY, 16, width=8, heads=2, blocks=1)
    norm = model.get_layer("block1_attention_batch")
    # The norm's input: the embedded tokens and their positions.
    probe = keras.Model(model.input, [model.get_layer("positions").output, norm.output])
    tokens, _ = language.sentiment_sentences(6, max_len=16, seed=0)
    inputs, outputs = (np.asarray(t) for t in probe(tokens, training=True))
    real = tokens != language.PAD
    assert not real.all()  # the batch holds padding
    mean = inputs[real].mean(axis=0)
    variance = inputs[real].var(axis=0)
    expected = (inputs - mean) / np.sqrt(variance + norm.epsilon)
    np.testing.assert_allclose(outputs[real], expected[real], rtol=1e-4, atol=1e-4)
    # With the padding's embeddings counted, the statistics would differ.
    assert not np.allclose(inputs.reshape(-1, 8).mean(axis=0), mean, atol=1e-3)


@pytest.mark.parametrize("norm", ["none", "layer", "batch"])
def test_a_sentence_is_read_without_its_padding(norm):
    """In inference mode a sentence's logits do not depend on the padding
    positions' table entries: the mask keeps them out of attention and the mean."""
    model = build_text_classifier(norm, language.VOCABULARY, 16, width=8, heads=2, blocks=2)
    tokens, _ = language.sentiment_sentences(4, max_len=16, seed=1)
    before = np.asarray(model(tokens, training=False))
    positions = model.get_layer("positions").positions
    table = np.asarray(positions)
    padded = (tokens == language.PAD).all(axis=0)
    assert padded.any()  # some positions are padding in every sentence
    positions.assign(np.where(padded[:, None], 3.0, table))
    np.testing.assert_allclose(np.asarray(model(tokens, training=False)), before, atol=1e-5)


def test_a_run_logs_accuracy_the_floor_its_data_and_a_model_that_loads(
    store, runs_of, metric_steps, monkeypatch
):
    monkeypatch.setattr(TASKS["text"], "quick_settings", TINY)
    assert main(["run", "--task", "text", "--norm", "batch", "--quick", *SMALL_MODEL]) == 0
    [run] = runs_of("text")
    assert run.info.status == "FINISHED"
    metrics, params = run.data.metrics, run.data.params
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert 0.4 < metrics["majority_accuracy"] < 0.6
    assert metric_steps(run, "val_accuracy") == [1, 2]
    assert (params["dataset"], params["max_len"], params["width"]) == ("sentiment", "16", "8")
    assert {i.dataset.name for i in run.inputs.dataset_inputs} == {
        "sentiment:max_len=16:train",
        "sentiment:max_len=16:val",
        "sentiment:max_len=16:test",
    }
    [output] = run.outputs.model_outputs
    model = mlflow.keras.load_model(f"models:/{output.model_id}")
    tokens, labels = language.sentiment_sentences(128, 16, seed=[0, SPLIT_STREAM["test"]])
    accuracy = np.mean(np.argmax(model.predict(tokens, verbose=0), axis=1) == labels)
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-6)


def test_a_run_whose_loss_blows_up_ends_failed_and_tagged(store, runs_of, monkeypatch, capsys):
    monkeypatch.setattr(TASKS["text"], "quick_settings", TINY)
    argv = ["run", "--task", "text", "--norm", "none", "--quick", "--lr", "1e30", *SMALL_MODEL]
    assert main(argv) == 1
    [run] = runs_of("text")
    assert run.info.status == "FAILED"
    assert run.data.tags["diverged"] == "true" and run.data.tags["diverged_epoch"] == "1"
    assert "training diverged at epoch 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    "options, message",
    [
        (["--heads", "3"], "--heads must divide --width, got --heads 3 and --width 64"),
        (["--max-len", "4"], "argument --max-len: must be an integer >= 8, got '4'"),
        (["--norm", "instance"], "argument --norm: invalid choice 'instance'"),
        (["--blocks", "0"], "argument --blocks: must be a positive integer"),
    ],
)
def test_bad_options_are_refused_before_anything_is_logged(
    options, message, store, runs_of, capsys
):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--task", "text", "--norm", "none", "--quick", *options])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert runs_of("text") == []
