# consent-server: `make run` serves the demo on http://127.0.0.1:5000, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTANCE := instance
export FLASK_APP := wsgi
# The exact versions CI passed with: runtime (what the wheel needs) and runtime + tests.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
UV := uv==0.13.9
.PHONY: install run serve keys test lint bench translations lock wheel

install: $(VENV)/.installed translations

# Everything from the lock (hashes checked), then the project itself without its dependencies.
$(VENV)/.installed: $(DEV_LOCK) pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# Re-resolve the ranges in pyproject.toml to the newest versions and pin them, with hashes.
# Run it after changing a dependency, and now and then to take updates; then `make test`.
lock: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet $(UV)
	$(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 --upgrade \
		pyproject.toml -o $(LOCK)
	$(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 --upgrade \
		--extra test pyproject.toml -o $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)

# Compile the .po catalogs into the .mo files Flask-Babel reads (not committed).
translations: $(VENV)/.installed
	$(BIN)/python -c 'from consent_server import catalogs; catalogs.compile_all(catalogs.SOURCE)'

# The server's three keys, made once in instance/ (mode 0600) and kept: the app reads each
# from instance/<name> when its CONSENT_* variable is unset.
keys: install
	$(BIN)/flask consent make-keys

run: keys
	$(BIN)/flask consent init-db
	$(BIN)/flask consent publish-policy
	@test -n "$$CONSENT_SMTP_HOST" || echo "no CONSENT_SMTP_HOST: e-mails (sign-up confirmations, \
	access links) are written to $(INSTANCE)/outbox/ as .eml files"
	$(BIN)/flask run --host 127.0.0.1 --port 5000

# Production: gunicorn with gunicorn.conf.py (threaded workers, limits, logs without personal
# data) on CONSENT_BIND (default 127.0.0.1:8000). Set CONSENT_PUBLIC_URL and the keys for real.
serve: keys
	$(BIN)/flask consent init-db
	@mkdir -p $(INSTANCE)/metrics
	PROMETHEUS_MULTIPROC_DIR=$${PROMETHEUS_MULTIPROC_DIR:-$(INSTANCE)/metrics} \
		$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff, configured in pyproject.toml (pyflakes, pycodestyle, isort, bugbear, pyupgrade).
lint: install
	$(BIN)/ruff check .

# The wheel, with the widget, the migrations and the compiled catalogs inside, in dist/.
wheel: $(VENV)/.installed
	$(BIN)/python -m pip wheel --quiet --no-deps -w dist .

# Throughput against the bare app (ratios), then load and faults (SIGKILL mid-load): see bench/.
bench: install
	$(BIN)/python bench/http_bench.py $(BENCH_ARGS)
	$(BIN)/python bench/load_and_kill.py $(FAULTS_ARGS)
