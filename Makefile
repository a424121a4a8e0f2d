# One command file for people and CI alike. Every target sets up what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Two stamps: the server alone (`make run`), and the dev toolchain on top (everything else).
RUN_STAMP := $(VENV)/.installed-run
STAMP     := $(VENV)/.installed
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# The lock file: every install takes the versions the tests ran with (`make constraints`).
LOCK   := constraints.txt
GEN    := src/piinguin/_generated
PROTOS := $(shell find protos -name '*.proto')
HOST   ?= 127.0.0.1
PORT   ?= 50051

.PHONY: install run test pytest lint typecheck proto proto-check constraints e2e bench soak clean

# The C sealer is built by the install (hatch_build.py): its source counts as a dependency.
$(RUN_STAMP): pyproject.toml $(LOCK) hatch_build.py src/storage/crypto/_batch.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) --constraint $(LOCK) -e .
	touch $@

$(STAMP): $(RUN_STAMP)
	$(PIP) --constraint $(LOCK) -e '.[dev]'
	touch $@

install: $(STAMP)

## Start the server on the in-memory backend, for local development. Installs only what the
## server needs. docker-compose publishes the same port.
run: $(RUN_STAMP)
	$(BIN)/piinguin-server --host $(HOST) --port $(PORT) --storage memory --log-format console --insecure-no-auth

## ruff, mypy (strict), a check that generated code is current, then the whole pytest suite.
## Installs nothing outside .venv: a test whose tool is missing skips and says which.
test: lint typecheck proto-check pytest

# Compiling first means no module is compiled while moto's server thread runs: CPython
# 3.11.7 can fail with "AST constructor recursion depth mismatch" when two threads compile.
pytest: $(STAMP)
	$(BIN)/python -m compileall -q src tests > /dev/null
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools hatch_build.py
	$(BIN)/ruff format --check src tests bench tools hatch_build.py

typecheck: $(STAMP)
	$(BIN)/mypy

# betterproto2 writes a whole package (messages, grpclib stubs, descriptors);
# it lives in its own folder and is never edited by hand.
define generate
	rm -rf $(1) && mkdir -p $(1) && \
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m grpc_tools.protoc -Iprotos \
	  --python_betterproto2_out=$(1) \
	  --python_betterproto2_opt=client_generation=async,server_generation=async,google_protobuf_descriptors \
	  $(PROTOS) > /dev/null
endef

proto: $(STAMP)
	$(call generate,$(GEN))

# The temporary folder is the shell's, so `make -n` creates nothing.
proto-check: $(STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(call generate,$$tmp/gen) && \
	{ diff -r -x __pycache__ $$tmp/gen $(GEN) > /dev/null || { echo "generated code in $(GEN) is stale: run 'make proto'"; exit 1; }; }

## Rewrite constraints.txt from .venv, after adding or upgrading a dependency there.
constraints: $(STAMP)
	$(BIN)/python -m tools.constraints $(LOCK)

## docker-compose for real (needs Docker and Compose, a few minutes): each profile built, up,
## healthy, a CLI round trip from the host, then torn down. See README "Docker".
e2e: $(RUN_STAMP)
	tools/e2e.sh

## Benchmarks against the official gRPC stack, a few minutes: see README "Benchmarks".
## BENCH_ARGS passes options, e.g. BENCH_ARGS="--only unary --profile". The load comes from
## h2load, installed with apt when run as root; without it a grpcio fallback is used.
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(PIP) --constraint $(LOCK) -e '.[dev,bench]'
	touch $@

bench: $(BENCH_STAMP)
	@command -v h2load > /dev/null || { \
	  [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null && \
	  { apt-get update -qq > /dev/null 2>&1; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client > /dev/null 2>&1; } ; \
	  command -v h2load > /dev/null || echo "note: h2load unavailable; the load falls back to grpcio clients"; }
	$(BIN)/python -m bench $(BENCH_ARGS)

## Every HTTP/2 flood of issue 12 against a server process while a normal client keeps
## calling, about two minutes: see README "Hostile peers". SOAK_ARGS passes options, e.g.
## SOAK_ARGS="--seconds 3 --only rapid-reset,tiny-frames". Fails if a normal call does.
soak: $(STAMP)
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

## The relay's Lambda deployment zip, dist/piinguin-relay.zip, for template.yaml. pip fetches
## the Lambda runtime's wheels (CPython 3.11, manylinux2014 x86_64) from the package index.
.PHONY: lambda
lambda: $(STAMP)
	$(BIN)/python -m tools.package_relay dist/piinguin-relay.zip
