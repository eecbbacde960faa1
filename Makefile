# Kubernetes Service labs. `make` lists the targets; each hands off to the `labs` CLI.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
LAB ?=
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
export PATH := $(abspath $(BIN)):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help setup lab test test-kind cluster cluster-down check reset solve lint bench
.PHONY: test-fast mutate

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -d $(VENV) || $(PY) -m venv $(VENV)
	@rm -f $(VENV)/.installed-*
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

setup: $(STAMP) ## Create .venv with every dependency (done by the other targets when needed)

lab: $(STAMP) ## The main job: start or reuse a cluster, then open JupyterLab on 127.0.0.1
	$(BIN)/python -m labs lab

test: $(STAMP) ## Run the test suite (cluster tests skip with the command that runs them)
	$(BIN)/python -m pytest

test-fast: $(STAMP) ## The edit-test loop: the suite without the real control plane (no Go build) and kind
	$(BIN)/python -m pytest -m "not controlplane and not kind" \
		--ignore=tests/controlplane --ignore=tests/differential/test_differential_cases.py

test-kind: $(STAMP) ## Run the end-to-end tests on a kind cluster (needs Docker)
	LAB_CLUSTER=kind $(BIN)/python -m pytest -m kind --run-kind

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

lint: $(STAMP) ## ruff over everything, mypy on labs, kubesim and controlplane, and the layer contract
	$(BIN)/ruff check . && $(BIN)/mypy labs kubesim controlplane && $(BIN)/lint-imports

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
