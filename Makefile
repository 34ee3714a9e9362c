# ResiMply — the two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run token test lint format bench chaos install install-check sample clean docs-check vendor-docs

# scripts/install.sh is also the Docker image's install step.
$(BIN)/.installed: pyproject.toml scripts/install.sh
	@PYTHON=$(PYTHON) bash scripts/install.sh $(VENV) --dev
	@touch $@

install: $(BIN)/.installed

## run: start web + in-process worker on http://127.0.0.1:8000 (local providers, dev auth)
##      PORT=8001 / REDIS_PORT=6391 / REDIS_URL=redis://… make run  (see scripts/run-dev.sh)
# The ports are checked before the install: a busy one is the first line printed.
run:
	@PYTHON=$(PYTHON) bash scripts/run-dev.sh --preflight
	@$(MAKE) --no-print-directory install
	@PYTHON=$(PYTHON) bash scripts/run-dev.sh

## token: a development token for the demo user, accepted by `make run`'s server
token: install
	@RESIMPLY_DEV=1 $(BIN)/resimply token

## test: the whole suite (starts its own private redis-server)
test: install
	$(BIN)/pytest

## docs-check: run the README's runnable blocks against a fresh make-run server; check doc links
docs-check: install
	$(BIN)/pytest -q tests/test_readme.py

## install-check: the image's install step (runtime only) into a scratch venv
install-check:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  PYTHON=$(PYTHON) bash scripts/install.sh "$$tmp/venv" && echo "runtime install OK"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## sample: regenerate the bundled sample video
sample: install
	$(BIN)/python scripts/make_sample.py

## vendor-docs: re-vendor Swagger UI (the /docs renderer) from npm into resimply/web/static/swagger-ui (VERSION=x.y.z to change it)
vendor-docs:
	bash scripts/vendor-swagger-ui.sh

clean:
	rm -rf $(VENV) .run .pytest_cache .mypy_cache .ruff_cache *.egg-info

## bench: benchmarks; each prints its figures against a baseline measured in the same run
bench: install
	$(BIN)/python -m bench.frames
	$(BIN)/python -m bench.tokens
	$(BIN)/python -m bench.cache
	@for b in fanout worker api page ingredients ocr metrics scaling partial capacity; do \
	  if [ -f bench/$$b.py ]; then $(BIN)/python -m bench.$$b || exit 1; fi; \
	done

## chaos: faults against real processes (killed worker, Redis outage and full Redis, Sentinel failover, hostile clients, fuzzing); prints what each did to users
chaos: install
	$(BIN)/python -m bench.chaos
