# Two commands for users: `make demo` and `make test`. Both go through the idempotent `make setup`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# System packages later stages need (chromium: the browser tests of the web pages;
# openssh-server: the real sshd the SFTP upload tests start on loopback; libtiff6: the G4
# TIFF pages of the federal package);
# installed with apt only when missing.
APT_PACKAGES := tesseract-ocr tesseract-ocr-rus fonts-dejavu-core chromium openssh-server libtiff6
OUT ?= out/demo
PARTICIPANTS ?= 2000
SEED ?= 42

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120

.PHONY: setup system-packages demo test lint typecheck unit bench clean

setup: system-packages $(STAMP)

system-packages:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/rcoi demo --participants $(PARTICIPANTS) --seed $(SEED) --out $(OUT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

test: setup lint typecheck
	$(BIN)/pytest

unit: setup
	$(BIN)/pytest tests/unit

bench: setup
	$(BIN)/python -m bench.region_generation
	$(BIN)/python -m bench.collect
	$(BIN)/python -m bench.reconcile
	$(BIN)/python -m bench.print_kits
	$(BIN)/python -m bench.simulate
	$(BIN)/python -m bench.scan
	$(BIN)/python -m bench.writing_amount
	$(BIN)/python -m bench.federal_package

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
