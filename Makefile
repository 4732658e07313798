# Two commands set up everything on a fresh machine: `make report` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CORE_COVERED := warrantd/graduation.py warrantd/decision.py warrantd/core.py warrantd/keys.py \
	warrantd/signals.py

.PHONY: install promptfoo test test-thorough lint typecheck browser postgres report bench datasets eval-logs lab clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[analytics,notebooks,cluster,inspect,postgres,dev]'
	touch $(STAMP)

install: $(STAMP)

# promptfoo (an npm package) for the tests that read its logs, pinned in tests/evals/tooling.py,
# installed once into .cache/promptfoo (about 2 minutes and 1.4 GB; needs node and npm).
PROMPTFOO := .cache/promptfoo/node_modules/promptfoo/package.json
$(PROMPTFOO): tests/evals/tooling.py | $(STAMP)
	$(BIN)/python -c "from tests.evals.tooling import promptfoo_bin; print(promptfoo_bin())"
	touch $(PROMPTFOO)

promptfoo: $(PROMPTFOO)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check --quiet .

typecheck: $(STAMP)
	$(BIN)/mypy --strict warrantd _warrantd_cli.py

# The report and notebook tests drive a real headless Chromium: install Debian's when it
# is missing (as root; elsewhere those tests skip and say why).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium chromium-driver) >/dev/null 2>&1; } || \
	  echo "note: no Chromium, and it could not be installed: the browser tests will skip"

# The PostgreSQL audit log tests start a throwaway server with the machine's own initdb /
# pg_ctl (tests/pg_server.py): install Debian's when it is missing (as root; the package also
# creates the unprivileged 'postgres' user the server runs as, since initdb refuses root).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    postgresql) >/dev/null 2>&1; } || \
	  echo "note: no PostgreSQL, and it could not be installed: the PostgreSQL audit log tests will skip"

# `make test` runs every check once at a meaningful size (Hypothesis's 100 examples a
# property, a share of the differential cases, seeds, writers and crashes: tests/conftest.py);
# `make test-thorough` runs the full counts. The analytics kit's tests run with coverage paused
# (pytest-cov's no_cover, tests/conftest.py): about twice as fast, and the core's coverage gate
# below is met by the core's own tests.
test: lint typecheck browser postgres $(PROMPTFOO)
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/python -m pytest --cov=warrantd --cov-report=
	@for f in $(CORE_COVERED); do \
	  $(BIN)/coverage report --include=$$f --fail-under=95 --show-missing || exit 1; done

test-thorough: $(STAMP) browser postgres
	HYPOTHESIS_PROFILE=thorough WARRANTD_THOROUGH=1 $(BIN)/python -m pytest -x

REPORT_ARGS := --policy datasets/billing-agent.policy.toml --history datasets/billing-agent.csv \
	--traffic datasets/billing-agent.traffic.csv \
	--grid datasets/billing-agent.grid.toml --window 30D --title "Billing agent: graduation report" \
	--out reports/billing-agent

report: $(STAMP)
	$(BIN)/warrantd report $(REPORT_ARGS)

bench: $(STAMP)
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

datasets: $(STAMP)
	$(BIN)/python datasets/make_datasets.py

eval-logs: $(STAMP)
	$(BIN)/python datasets/make_eval_logs.py

# JupyterLab on working copies in lab/ (ignored by git), so running a notebook never writes
# outputs into the committed, output-free ones. A copy is made only where lab/ has none:
# your edits there are never replaced (delete a copy to start it afresh from notebooks/).
# notebooks/jupyter-config layers one default under your own JupyterLab settings (which
# still win): save widget state in the notebook, so a reopened tuner shows its last figures
# and says "run this cell again" (without it, it says so too, from a plain HTML output).
LAB_CONFIG := $(CURDIR)/notebooks/jupyter-config
lab: $(STAMP)
	@mkdir -p lab
	@for f in notebooks/*.ipynb; do test -e "lab/$${f#notebooks/}" || cp "$$f" lab/; done
	JUPYTER_CONFIG_PATH="$(LAB_CONFIG)$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	  $(BIN)/jupyter lab lab/ $$(test "$$(id -u)" = 0 && echo --allow-root)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage
