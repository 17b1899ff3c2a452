# The README's commands: `make demo` (main job) and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest -q -p no:cacheprovider

.PHONY: setup demo test test-tf test-jax bench docs docs-serve clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt scripts/setup.sh
	bash scripts/setup.sh
	touch $@

# Layer tests run on the TensorFlow and JAX backends; experiment tests need TensorFlow.
test: setup test-tf test-jax

test-tf: setup
	KERAS_BACKEND=tensorflow $(PYTEST) tests

test-jax: setup
	KERAS_BACKEND=jax $(PYTEST) tests/layers tests/test_convert.py

# The documentation site: mkdocs.yml, docs/ and the docstrings.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

docs-serve: setup
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs serve -a 127.0.0.1:8000

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
	rm -rf $(VENV) .pytest_cache .hypothesis site
