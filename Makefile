# The two commands people need: `make run` and `make test`. See README.md.
# Debian's own Python 3.11 where the machine has it with venv (package python3.11-venv), else
# `python3`: the interpreter docs/deploy.md runs the portal on, so the tests run on it too.
# Debian builds it with profile-guided and link-time optimisation, which a plain source build
# (pyenv's default) lacks: one test, run five times alternately under each, took 9.5 against
# 10.6 CPU seconds. `make clean` first to move an existing .venv to it.
PYTHON ?= $(if $(wildcard /usr/lib/python3.11/ensurepip/__init__.py),/usr/bin/python3.11,python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOST ?= 127.0.0.1
PORT ?= 8000
# Python keeps its compiled modules (__pycache__/, ignored by git) even where the environment
# says not to (PYTHONDONTWRITEBYTECODE, set in many containers): without them every process
# compiles the project again, and pytest rewrites the tests' asserts again, 5 s of each test
# process's start and about 0.3 s of each `manage.py` or worker the tests start.
export PYTHONDONTWRITEBYTECODE :=

.PHONY: run test install install-dev check-system migrate demo lint format e2e screenshots bench clean \
        serve deploy-check backup restore

$(PY):
	$(PYTHON) -m venv $(VENV)
	# pip >= 25.3 for --build-constraint (xstatic-bootstrap's sdist needs pkg_resources to build).
	$(PIP) install --quiet --upgrade "pip>=25.3"

$(VENV)/.installed: pyproject.toml build-constraints.txt | $(PY)
	$(PIP) install --quiet --build-constraint build-constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml build-constraints.txt | $(PY)
	$(PIP) install --quiet --build-constraint build-constraints.txt -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed check-system
install-dev: $(VENV)/.installed-dev check-system

# WeasyPrint needs Pango from the system; say so plainly instead of failing later.
check-system: | $(PY)
	@$(PY) scripts/check_system.py

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py loaddemo

run: demo
	HOST=$(HOST) PORT=$(PORT) $(VENV)/bin/honcho start -f Procfile

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# pytest runs in parallel, one process more than there are cores (pytest-xdist; TEST_WORKERS=0
# for one): about a fifth of the suite's time is spent waiting on the browser, the real worker
# and subprocesses, and the extra process keeps the cores busy meanwhile (on 2 cores, whole
# pytest runs one after another, on pyenv's Python: 262 s, against 361 s with two processes and
# 330 s with four).
# Each test file runs wholly in one process (--dist loadfile: a file's audit-coverage check
# sees all its tests), the files with the most tests handed out first (xdist's own order). The
# time the whole command took is printed last, whether it passed or not.
TEST_WORKERS ?= $(shell expr $$(nproc) + 1 2>/dev/null || echo auto)
test: install-dev
	@start=$$(date +%s); status=0; \
	{ $(MAKE) --no-print-directory lint \
	  && DJANGO_SETTINGS_MODULE=cdt_portal.settings.test $(PY) manage.py check --fail-level WARNING \
	  && DJANGO_SETTINGS_MODULE=cdt_portal.settings.test $(PY) manage.py makemigrations --check --dry-run \
	  && $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS); } || status=$$?; \
	echo "make test: $$(( $$(date +%s) - start )) s"; exit $$status

e2e: install-dev
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

# Refresh the README's screenshots: the browser journeys, drawing their pictures this time.
screenshots: install-dev
	rm -rf var/screenshots
	CDT_SCREENSHOTS=1 $(PY) -m pytest tests/e2e $(PYTEST_ARGS)
	cp var/screenshots/*.png docs/screenshots/

# The jobs and department-scale sections need PostgreSQL (a database of their own is made on
# this server and dropped) and an empty Redis database of their own (emptied at the end);
# BENCH_APP_PORT picks gunicorn's port (0: one the system gives).
BENCH_JOBS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/cdt_portal
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/14
BENCH_APP_PORT ?= 0
bench: install-dev
	BENCH_JOBS_DATABASE_URL=$(BENCH_JOBS_DATABASE_URL) BENCH_REDIS_URL=$(BENCH_REDIS_URL) \
	  BENCH_APP_PORT=$(BENCH_APP_PORT) $(PY) benchmarks/run.py

# Production (docs/deploy.md): gunicorn and the worker with production settings, the rest from
# .env (manage.py and wsgi.py read it).
serve: install
	DJANGO_SETTINGS_MODULE=cdt_portal.settings.production GUNICORN_BIND=$(HOST):$(PORT) \
		$(VENV)/bin/honcho start -f deploy/Procfile.production

# As root: docs/deploy.md's commands as written on a throwaway copy of this machine (a private
# namespace), then the portal walked over HTTPS. It builds its own virtualenv there, so it
# needs only the system's python3, not this checkout's .venv.
deploy-check:
	$(PYTHON) scripts/deploy_check.py

# One archive (database + media) into BACKUP_DIR; `make restore ARCHIVE=...` into an empty
# database. Both act with the settings .env names (manage.py reads it first).
backup: install
	$(PY) manage.py backup

restore: install
	@test -n "$(ARCHIVE)" || { echo "Usage: make restore ARCHIVE=var/backups/cdt-portal-....tar [IDENTITY=key.txt]"; exit 2; }
	$(PY) manage.py restore "$(ARCHIVE)"$(if $(IDENTITY), --identity "$(IDENTITY)")

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
