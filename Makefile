# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: install demo test lint clean schema-snapshot mutate

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[dev,postgres,people]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash scripts/demo.sh

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# After adding a migration: freeze its schema as tests/data/schema/vN.sql (tests/test_migrations_frozen.py).
schema-snapshot: $(STAMP)
	$(PY) -m scripts.schema_snapshot

# Mutation testing (mutmut) of the core pure modules; minutes per module, not part of `make test`.
mutate: $(STAMP)
	nice $(PY) -m scripts.mutate

clean:
	rm -rf data runs
