"""A generated language for the text task: sentiment with negation.

No labelled text corpus installs offline from the package registries, so the
text task generates its sentences. The language keeps what sets text apart
from images for a normalization: sentences of varying length, padded to one
length (so padding must stay out of batch statistics), a Zipfian vocabulary
(a few words everywhere, most rare), and a label that depends on word order.

A sentence is 8 to `max_len` tokens. Each token is, independently, a
sentiment word (`SENTIMENT_P`, positive or negative alike, `SENTIMENT_WORDS`
of each), the word "not" (`NOT_P`), or else a filler word drawn with
probability proportional to 1 / rank^`ZIPF_EXPONENT`. A "not" flips the
polarity of the next sentiment word after it, however far (two flip it
back). The label is 1 where the sentence's polarities sum above 0 and 0
where below; sentences that sum to 0 are drawn again. The label is a function
of the sentence: a model can reach 100%, by counting sentiment words and
reading each one's scope of negation.
"""

import numpy as np

PAD, NOT = 0, 1
SENTIMENT_WORDS = 16  # positive words, and as many negative ones
FILLER_WORDS = 480
FIRST_POSITIVE = 2
FIRST_NEGATIVE = FIRST_POSITIVE + SENTIMENT_WORDS
FIRST_FILLER = FIRST_NEGATIVE + SENTIMENT_WORDS
VOCABULARY = FIRST_FILLER + FILLER_WORDS  # 512 token ids, PAD included
MIN_LEN = 8
SENTIMENT_P = 0.12
NOT_P = 0.06
ZIPF_EXPONENT = 1.1


def polarity_sums(tokens):
    """Each sentence's sum of polarities, negation applied: +1 per positive
    word and -1 per negative one, each flipped where an odd number of "not"
    came since the previous sentiment word. `tokens`: int array (count,
    steps), PAD after each sentence's end."""
    count, steps = tokens.shape
    flipped = np.zeros(count, dtype=bool)
    sums = np.zeros(count, dtype=np.int64)
    for step in range(steps):
        token = tokens[:, step]
        flipped ^= token == NOT
        polarity = ((token >= FIRST_POSITIVE) & (token < FIRST_NEGATIVE)).astype(np.int64) - (
            (token >= FIRST_NEGATIVE) & (token < FIRST_FILLER)
        ).astype(np.int64)
        sums += np.where(flipped, -polarity, polarity)
        flipped &= polarity == 0  # a sentiment word ends the scope of negation
    return sums


def _sentences(rng, count, max_len):
    lengths = rng.integers(MIN_LEN, max_len + 1, size=count)
    kind = rng.random((count, max_len))
    ranks = np.arange(1, FILLER_WORDS + 1)
    zipf = ranks**-ZIPF_EXPONENT
    tokens = FIRST_FILLER + rng.choice(FILLER_WORDS, size=(count, max_len), p=zipf / zipf.sum())
    sentiment = kind < SENTIMENT_P
    tokens = np.where(
        sentiment, FIRST_POSITIVE + rng.integers(0, 2 * SENTIMENT_WORDS, (count, max_len)), tokens
    )
    tokens = np.where((kind >= SENTIMENT_P) & (kind < SENTIMENT_P + NOT_P), NOT, tokens)
    tokens[np.arange(max_len)[None, :] >= lengths[:, None]] = PAD
    return tokens


def sentiment_sentences(count, max_len=64, seed=0):
    """`count` sentences of the language and their labels.

    Args:
        count: number of sentences, at least 1.
        max_len: the padded length, at least `MIN_LEN`; sentences are
            `MIN_LEN` to `max_len` tokens long, uniformly.
        seed: the same seed (an int or a sequence of ints) gives the same arrays.

    Returns:
        `(tokens, labels)`: int32 arrays of shapes `(count, max_len)`, PAD
        (0) after each sentence, and `(count,)`, 0 or 1.
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be a positive int. Received: count={count!r}")
    if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)):
        raise ValueError(f"max_len must be an int. Received: max_len={max_len!r}")
    if max_len < MIN_LEN:
        raise ValueError(f"max_len must be at least {MIN_LEN}. Received: max_len={max_len!r}")
    rng = np.random.default_rng(seed)
    kept = []
    while sum(len(part) for part in kept) < count:
        tokens = _sentences(rng, count, max_len)
        kept.append(tokens[polarity_sums(tokens) != 0])
    tokens = np.concatenate(kept)[:count]
    labels = (polarity_sums(tokens) > 0).astype("int32")
    return tokens.astype("int32"), labels
