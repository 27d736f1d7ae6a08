# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench clean

# The dependencies, then the project itself (editable) for its console script .venv/bin/redis-key-lint;
# setuptools >= 70.1 builds it without `wheel` and without downloading a build environment.
$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools>=70.1"
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Web, Celery worker and beat, a demo Redis with a realistic keyspace, and a demo login.
run: $(STAMP)
	ADVISOR_DEBUG=true $(PY) manage.py migrate --noinput
	ADVISOR_DEBUG=true $(PY) -m advisor.demo.run

# The whole suite. DATABASE_URL=postgres://... runs it on PostgreSQL.
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: $(STAMP)
	$(PY) bench/match.py
	$(PY) bench/lint.py
	$(PY) bench/scan.py
	$(PY) bench/scan_budget.py
	$(PY) bench/import.py
	$(PY) bench/load.py
	$(PY) bench/web.py

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .hypothesis
