# The README's commands: `make demo` (main job) and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest -q -p no:cacheprovider

.PHONY: setup demo test test-tf test-jax test-torch bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt scripts/setup.sh
	bash scripts/setup.sh
	touch $@

# Layer tests run on the TensorFlow, JAX and torch backends; experiment tests
# need TensorFlow.
test: setup test-tf test-jax test-torch

test-tf: setup
	KERAS_BACKEND=tensorflow $(PYTEST) tests

test-jax: setup
	KERAS_BACKEND=jax $(PYTEST) tests/layers

test-torch: setup
	KERAS_BACKEND=torch $(PYTEST) tests/layers

demo: setup
	KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m experiments quick

# TensorFlow leaves its oneDNN kernels off on some CPUs: measure both ways.
bench: setup
	for onednn in 0 1; do \
	  for script in bench_layers bench_weight_norm bench_fit_epoch; do \
	    TF_ENABLE_ONEDNN_OPTS=$$onednn KERAS_BACKEND=tensorflow \
	      $(PY) benchmarks/$$script.py || exit 1; \
	  done; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
