# The README's commands: `make demo` (main job) and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest -q -p no:cacheprovider

.PHONY: setup demo test test-tf test-jax bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt scripts/setup.sh
	bash scripts/setup.sh
	touch $@

# Layer tests run on the TensorFlow and JAX backends; experiment tests need TensorFlow.
test: setup test-tf test-jax

test-tf: setup
	KERAS_BACKEND=tensorflow $(PYTEST) tests

test-jax: setup
	KERAS_BACKEND=jax $(PYTEST) tests/layers

demo: setup
	KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m experiments quick

bench: setup
	KERAS_BACKEND=tensorflow $(PY) benchmarks/bench_layers.py
	KERAS_BACKEND=tensorflow $(PY) benchmarks/bench_weight_norm.py
	KERAS_BACKEND=tensorflow $(PY) benchmarks/bench_fit_epoch.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
