# Two commands do everything on a fresh machine with Python 3.11 and make:
#   make demo   build a SQLite database with demo data and serve http://127.0.0.1:8000
#   make test   run the whole test suite (PostgreSQL tests too when TEST_DATABASE_URL is set)
#   make fuzz   schemathesis over the whole OpenAPI against a fresh demo server: no 5xx, no schema violation
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-future serve bench fuzz lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/labshare demo

serve: $(STAMP)
	$(BIN)/labshare serve

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

# The SQLite suite with the clock moved FUTURE_OFFSET ahead (libfaketime): no test may depend on today.
# The browser tests stay out: faketime would be preloaded into chromium too, and they use no dates.
FUTURE_OFFSET ?= +400d
test-future: $(STAMP)
	env -u TEST_DATABASE_URL -u LABSHARE_REQUIRE_POSTGRES faketime -f '$(FUTURE_OFFSET)' $(BIN)/python -m pytest -n 2 --dist loadgroup -q -p no:cacheprovider -k 'not postgresql' -m 'not browser'

bench: $(STAMP)
	$(BIN)/python -m bench.allocation

# cases per operation and phase; CI: make fuzz FUZZ_EXAMPLES=8 FUZZ_PHASES=examples,fuzzing
FUZZ_EXAMPLES ?= 30
FUZZ_PHASES ?= examples,coverage,fuzzing,stateful
fuzz: $(STAMP)
	$(BIN)/python -m bench.fuzz --max-examples $(FUZZ_EXAMPLES) --phases $(FUZZ_PHASES)

lint: $(STAMP)
	$(BIN)/ruff check instruments scheduler booking_api fixtures solver tests bench

clean:
	rm -rf $(VENV) *.db *.db-wal *.db-shm .pytest_cache .hypothesis
