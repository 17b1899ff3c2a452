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
    """One value of the study's factor. `variants`: the labels of the variants
    run at it (None: all the scale's), for a factor that leaves some variants
    unchanged (batch norm's statistics batch: group norm has none)."""

    label: str
    params: dict
    variants: tuple | None = None


OUTCOMES = ("continuous", "binary", "censored")

# The questions users bring, in the order the page's summary answers them;
# each study answers one (`Study.question`).
QUESTIONS = (
    "Which norm for my CNN?",
    "Which norm for a very deep network?",
    "Which norm at small batch sizes?",
    "Which norm for my RNN?",
    "Which norm for text?",
    "Which norm for my GAN?",
    "Which norm for image translation?",
    "Which norm for style transfer?",
    "Which norm for online learning?",
    "Which norm for reinforcement learning?",
)

# A claim side's level chosen on validation: the level where the variant does
# best on the study's `tune_metric` (see `Study`).
BEST = "best"


@dataclasses.dataclass(frozen=True)
class Claim:
    """ "`a` beats `b` on `metric`", each a (variant label, level label) pair.

    `paper` is the paper's figure for it and `source` the paper and table it
    comes from (docs/references.md lists them). How it is tested
    (`experiments.studies.verdict`) is declared with it, before any run:

    - `outcome`: "continuous" (the runs' final `metric`), "binary" (whether a
      run's `metric` reaches `target` in the metric's direction, which is the
      better outcome; a diverged run never does; the metric "diverged" takes
      the divergence itself as the outcome, `higher_is_better` False claiming
      that A diverges less often) or "censored"
      (the training steps until the curve `metric` first reaches `target`;
      a run that never does is censored at its budget, and fewer steps is
      better whatever `higher_is_better` says of the metric);
    - `target` of a censored outcome: a number, or a side whose runs' mean
      final `metric` is the target ("the plain network's best validation
      accuracy": ("none", BEST));
    - a side's level may be `BEST`: the level the study chooses for that
      variant on validation (`Study.tune_metric`);
    - `floor`: the task's chance level or mean predictor on `metric`, a
      number or the name of a metric every run logs (the claim is untestable
      when neither arm beats it); None: no floor;
    - `equivalence_margin`: the smallest difference of interest, in the
      metric's units: with it, "no difference" can be found (TOST);
    - `paired`: the arms share training (one run per seed trains both; they
      differ in evaluation only), so the test pairs them by seed;
    - `b_metric`: B's metric where it is not `metric`: a claim on two scores
      of the same runs (batch norm scored with its moving statistics and with
      the test batch's), paired by seed;
    - `baselines`: (A0, B0), sides as `a` and `b` are: the claim is on each
      arm's change from a baseline of its own, (A - A0) beats (B - B0), the
      difference in differences ("group norm loses less than batch norm from
      batch 32 to batch 2"). Continuous outcomes only.
    """

    text: str
    a: tuple
    b: tuple
    metric: str
    higher_is_better: bool
    paper: str
    source: str
    outcome: str = "continuous"
    target: float | tuple | None = None
    floor: float | str | None = None
    equivalence_margin: float | None = None
    paired: bool = False
    b_metric: str | None = None
    baselines: tuple | None = None

    @property
    def sides(self):
        """Every (variant, level) the claim reads: A and B, and their baselines."""
        return (self.a, self.b, *(self.baselines or ()))

    def noted(self, note):
        """The claim with `note` added to its text, as a later study that puts
        it again tells it apart on a page holding both: inside the closing
        parenthesis where the text ends in one (its level), else after it."""
        if self.text.endswith(")"):
            return dataclasses.replace(self, text=f"{self.text[:-1]}, {note})")
        return dataclasses.replace(self, text=f"{self.text} ({note})")

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError(
                f"Claim {self.text!r}: outcome must be one of {OUTCOMES}, got {self.outcome!r}"
            )
        if (
            self.outcome == "censored" or self.outcome == "binary" and self.metric != "diverged"
        ) and self.target is None:
            raise ValueError(f"Claim {self.text!r}: a {self.outcome} outcome needs a target")
        if self.equivalence_margin is not None and not (
            self.outcome == "continuous" and self.equivalence_margin > 0
        ):
            raise ValueError(
                f"Claim {self.text!r}: equivalence_margin must be > 0 on a "
                f"continuous outcome, got {self.equivalence_margin!r}"
            )
        if self.paired and self.outcome != "continuous":
            raise ValueError(f"Claim {self.text!r}: only a continuous outcome is paired")
        if self.b_metric is not None and not self.paired:
            raise ValueError(
                f"Claim {self.text!r}: b_metric scores the same runs twice, so the claim "
                f"must be paired, got paired={self.paired!r}"
            )
        if self.baselines is not None and (
            self.outcome != "continuous" or self.paired or len(self.baselines) != 2
        ):
            raise ValueError(
                f"Claim {self.text!r}: baselines must be two sides (A0, B0) of an unpaired "
                f"continuous outcome, got baselines={self.baselines!r}"
            )


@dataclasses.dataclass(frozen=True)
class Scale:
    """One size of a study: task settings over the task's own, its levels, its
    seeds, the labels of the variants it runs (None: all) and its grid of
    learning rates.

    `seeds` is fixed here, before any run: a study runs and reports seeds
    0..seeds-1 and no others, so seeds are never added after a look at the
    results. A bigger study is a new scale or a new study (its own tag).

    `lrs`: every cell (a variant at a level) is trained at each of these
    rates, every seed, and read at the rate chosen for it on validation
    (`Study.tune_metric`): each arm at its own best rate, the fair-comparison
    convention. None: the one rate of the task, its level or `settings`."""

    settings: dict
    levels: tuple
    seeds: int
    variants: tuple | None = None
    lrs: tuple | None = None


@dataclasses.dataclass(frozen=True)
class Study:
    """A grid of `variants` x the levels of `factor` x seeds on `task`.

    `metrics` are the final metrics its tables show (the first is the one the
    factor figure plots). The learning curves, and
    the target whose first crossing is counted in steps, are the task's
    report view of each level's dataset. Every level gets its learning
    curves; `plot` adds "factor" (the first metric against the factor, per
    variant), "samples" (the GAN's last sample grid per variant) or
    "gradients" (each hidden layer's gradient norm at initialization against
    its depth, per variant: the task's fully connected networks log them).
    `references` map a table label to a metric every run logs (a baseline,
    a floor), shown under the first metric.

    `tune_metric`: the final validation metric that chooses, on the runs'
    mean, a claim side's level `BEST` per variant, and a cell's rate where the
    scale declares `lrs`; only levels (rates) where none of the runs diverged
    compete: a rate that diverges is no variant's best.
    `tune_higher_is_better`: that metric's direction.
    `question`: the one of `QUESTIONS` the study answers, under which the
    page's summary lists its claims.
    """

    name: str
    title: str
    task: str
    factor: str
    variants: tuple
    scales: dict
    claims: tuple
    metrics: tuple
    question: str
    plot: str = "curves"
    references: dict = dataclasses.field(default_factory=dict)
    notes: str = ""
    tune_metric: str | None = None
    tune_higher_is_better: bool = True

    def __post_init__(self):
        if self.question not in QUESTIONS:
            raise ValueError(
                f"Study {self.name!r}: question must be one of {QUESTIONS}, got {self.question!r}"
            )
        for name, scale in self.scales.items():
            if scale.lrs is None:
                continue
            if self.tune_metric is None:
                raise ValueError(
                    f"Study {self.name!r}: scale {name!r} declares lrs {scale.lrs!r}, which "
                    "needs a tune_metric to choose among them, got tune_metric=None"
                )
            if "lr" in scale.settings or any("lr" in level.params for level in scale.levels):
                raise ValueError(
                    f"Study {self.name!r}: scale {name!r} declares lrs {scale.lrs!r} and "
                    "sets lr in its settings or levels too; give the rates in one place"
                )

    def scale(self, name):
        return self.scales[name]

    def regridded(self, name, rates, **changes):
        """Scale `name` at the grid of learning rates `rates`, with `changes`:
        for a study that puts this one's claims again at another grid."""
        return dataclasses.replace(self.scales[name], lrs=rates, **changes)

    def at_rates(self, name, title, rates, note, notes, smoke_rates):
        """This study's claims, variants, budgets and seeds again as study
        `name`, at the grid of learning rates `rates` (`smoke_rates` at the
        smoke scale): for a grid that reaches past the rate its cells chose at
        the edge. Each claim gets `note` (`Claim.noted`); `notes` describe it."""
        return dataclasses.replace(
            self,
            name=name,
            title=title,
            scales={
                scale: self.regridded(scale, smoke_rates if scale == "smoke" else rates)
                for scale in self.scales
            },
            claims=tuple(claim.noted(note) for claim in self.claims),
            notes=notes,
        )

    @property
    def tunes_levels(self):
        """Whether a claim reads a side (or its target) at the level `BEST`."""
        return any(
            side[1] == BEST
            for claim in self.claims
            for side in (*claim.sides, *([claim.target] if isinstance(claim.target, tuple) else []))
        )

    def variants_at(self, scale, level=None):
        """The variants `scale` runs (at `level`, a `Level`, when given)."""
        chosen = self.scales[scale].variants
        at_level = None if level is None else level.variants
        return tuple(
            v
            for v in self.variants
            if (chosen is None or v.label in chosen) and (at_level is None or v.label in at_level)
        )

    def level(self, scale, label):
        return next((level for level in self.scales[scale].levels if level.label == label), None)
