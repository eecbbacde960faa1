# Kubernetes Service labs. `make` lists the targets; each hands off to the `labs` CLI.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
LAB ?=
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
export PATH := $(abspath $(BIN)):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help setup browser lab test test-kind kind-images rig-up rig-down record-dataplane cluster cluster-down check reset solve lint bench
.PHONY: test-fast mutate

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

# pip's own lines are kept in .venv/pip.log; shown are one line per package it fetches and the
# time taken (not setuptools' "Editable installation" notice, meant for package authors).
PIP_SHOWN := grep --line-buffered -E '^(Collecting|Successfully installed|ERROR|error:)' | cut -c1-100
$(STAMP): pyproject.toml
	@test -d $(VENV) || $(PY) -I labs/venv_bootstrap.py $(VENV)
	@rm -f $(VENV)/.installed-*
	@echo "Installing the labs' Python packages into $(VENV) (about a minute the first time; pip's log: $(VENV)/pip.log)"
	@set -o pipefail; start=$$(date +%s); \
	  { $(BIN)/pip install --progress-bar off --upgrade pip && $(BIN)/pip install --progress-bar off -e '.[dev,classroom]'; } 2>&1 \
	  | tee $(VENV)/pip.log | $(PIP_SHOWN) \
	  || { echo "pip failed; the end of $(VENV)/pip.log:"; tail -n 25 $(VENV)/pip.log; exit 1; }; \
	  echo "Installed in $$(( $$(date +%s) - start )) s"
	@touch $@

setup: $(STAMP) ## Create .venv with every dependency (done by the other targets when needed)

browser: ## Debian's chromium for the browser tests (apt-get as root where it can; never silently)
	@bash tests/browser/install-chromium.sh

lab: $(STAMP) ## The main job: start or reuse a cluster, then open JupyterLab on 127.0.0.1
	$(BIN)/python -m labs lab

test: $(STAMP) browser ## Run the test suite, then the kind suite on the kind rig where it can run
	@$(BIN)/python -m kindrig prepare --background
	$(BIN)/python -m pytest -m "not kind"
	$(BIN)/python -m kindrig test

test-fast: $(STAMP) ## The edit-test loop (~2 min): no control plane, kind, browser, notebook runs or hub
	$(BIN)/python -m pytest -m "not controlplane and not kind and not classroom" \
		--ignore=tests/controlplane --ignore=tests/differential/test_differential_cases.py \
		--ignore=tests/browser --ignore=tests/notebooks/test_execute.py \
		--ignore=tests/notebooks/test_execute_kind.py

test-kind: $(STAMP) ## Run the end-to-end tests on your own running kind cluster (make cluster first)
	LAB_CLUSTER=kind $(BIN)/python -m pytest -m kind --run-kind

kind-images: $(STAMP) ## Build kind's node image and the labs' images here, offline (root; cached)
	$(BIN)/python -m kindrig images

rig-up: $(STAMP) ## Start the kind rig's cluster (private Docker engine, locally built images)
	$(BIN)/python -m kindrig up

rig-down: $(STAMP) ## Delete the kind rig's cluster and stop its Docker engine
	$(BIN)/python -m kindrig down

record-dataplane: $(STAMP) ## Record the data-plane cases on the kind rig (tests/dataplane/recorded.yaml)
	DATAPLANE_RECORD=1 $(BIN)/python -m kindrig test -- tests/dataplane/test_kind.py

cluster: $(STAMP) ## Start or reuse the lab cluster; prints `export KUBECONFIG=...`
	@$(BIN)/python -m labs cluster up

cluster-down: $(STAMP) ## Stop and delete the lab cluster this project created
	$(BIN)/python -m labs cluster down

check: $(STAMP) ## Grade the labs (LAB=nodeport for one); writes reports/ as JSON and JUnit XML
	$(BIN)/python -m labs check $(LAB)

reset: $(STAMP) ## Delete one lab's namespace and everything in it (LAB=...)
	$(BIN)/python -m labs reset $(LAB)

solve: $(STAMP) ## Apply a lab's reference solution (LAB=...)
	$(BIN)/python -m labs solve $(LAB)

lint: $(STAMP) ## ruff over everything, mypy on labs, kubesim, controlplane, kindrig and classroom, and the layer contract
	$(BIN)/ruff check . && $(BIN)/mypy labs kubesim controlplane kindrig classroom && $(BIN)/lint-imports

mutate: $(STAMP) ## Mutation testing of the grader and kubesim's Service semantics (mutmut; not in CI)
	$(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut export-cicd-stats && cat mutants/mutmut-cicd-stats.json && echo
	@echo "survivors: $(BIN)/mutmut results; one of them: $(BIN)/mutmut show <name>"

bench: $(STAMP) ## Benchmarks that print their figures
	$(BIN)/python -m benchmarks

.PHONY: control-plane control-plane-down
control-plane: $(STAMP) ## Start or reuse a real control plane built from Go modules; prints `export KUBECONFIG=...`
	@$(BIN)/python -m controlplane up
control-plane-down: $(STAMP) ## Stop the real control plane started by `make control-plane`
	$(BIN)/python -m controlplane down

.PHONY: classroom scoreboard grades
ROSTER ?= roster.txt
classroom: $(STAMP) ## A workshop: JupyterHub for ROSTER=<file> on 127.0.0.1:8000 (root; docs/classroom.md)
	$(BIN)/python -m classroom hub --roster $(ROSTER) $(CLASSROOM_ARGS)
scoreboard: $(STAMP) ## The instructor's live scoreboard in the terminal (grades every student's cluster)
	$(BIN)/python -m classroom scoreboard show --watch --grade
grades: $(STAMP) ## The classroom's results as CSV, points per objective (grades.csv)
	$(BIN)/python -m classroom export --out grades.csv
