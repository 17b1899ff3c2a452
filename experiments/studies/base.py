"""What a study is: a declared grid (variants x one factor x seeds) on one
task, the claims it tests, and how each scale sizes it.

A variant is a normalization as the study compares it (a `norm`, sometimes
with a task option: batch norm evaluated with the test batch's statistics);
a level is one value of the study's factor (a learning rate, a batch size, a
sequence length). Both are params merged into the task's configuration, so a
run is recognised by its params alone.

To add a study, write a module in `experiments/studies/` defining a `Study`
and list it in `experiments/studies/__init__.py`.
"""

import dataclasses

SCALES = ("smoke", "small", "full")


@dataclasses.dataclass(frozen=True)
class Variant:
    label: str
    params: dict


@dataclasses.dataclass(frozen=True)
class Level:
    label: str
    params: dict


@dataclasses.dataclass(frozen=True)
class Claim:
    """"`a` beats `b` on `metric`", each a (variant label, level label) pair.

    `paper` is the paper's figure for it and `source` the table it comes from
    (REFERENCES.md).
    """

    text: str
    a: tuple
    b: tuple
    metric: str
    higher_is_better: bool
    paper: str
    source: str


@dataclasses.dataclass(frozen=True)
class Scale:
    """One size of a study: task settings over the task's own, its levels, its
    seeds, and the labels of the variants it runs (None: all)."""

    settings: dict
    levels: tuple
    seeds: int
    variants: tuple | None = None


@dataclasses.dataclass(frozen=True)
class Study:
    """A grid of `variants` x the levels of `factor` x seeds on `task`.

    `metrics` are the final metrics its tables show (the first is the one the
    factor figure plots). The learning curves, and
    the target whose first crossing is counted in steps, are the task's
    report view of each level's dataset. Every level gets its learning
    curves; `plot` adds "factor" (the first metric against the factor, per
    variant) or "samples" (the GAN's last sample grid per variant).
    `references` map a table label to a metric every run logs (a baseline,
    a floor), shown under the first metric.
    """

    name: str
    title: str
    task: str
    factor: str
    variants: tuple
    scales: dict
    claims: tuple
    metrics: tuple
    plot: str = "curves"
    references: dict = dataclasses.field(default_factory=dict)
    notes: str = ""

    def scale(self, name):
        return self.scales[name]

    def variants_at(self, scale):
        """The variants `scale` runs."""
        chosen = self.scales[scale].variants
        return tuple(v for v in self.variants if chosen is None or v.label in chosen)

    def level(self, scale, label):
        return next((level for level in self.scales[scale].levels if level.label == label), None)
