# Two targets make the quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install system-deps demo test lint typecheck clean

# The editable install also compiles the reader's C fast path in place: rebuild when it changes.
$(STAMP): pyproject.toml mptcpspec/capture/_speedups.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test,plot,dask]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages for the capture tool and the tests that drive the kernel (root only; else skips).
system-deps:
	@scripts/system-deps

# The main job on a bundled capture: validate a real Linux-kernel MPTCP trace.
demo: $(STAMP)
	$(BIN)/mptcpspec validate traces/add-addr.pcap

lint: $(STAMP)
	$(BIN)/ruff check mptcpspec tests bench
	$(BIN)/ruff format --check mptcpspec tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Lint, types, then the whole test suite (root-only tests skip with a reason elsewhere).
test: system-deps lint typecheck
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache mptcpspec/capture/_speedups.*.so
