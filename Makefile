# consent-server: `make run` serves the demo on http://127.0.0.1:5000, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTANCE := instance
export FLASK_APP := wsgi
# The keys `make run` made in instance/ (kept between runs).
KEYS = CONSENT_SECRET_KEY=$$(cat $(INSTANCE)/secret_key) \
	CONSENT_EMAIL_HASH_KEY=$$(cat $(INSTANCE)/email_hash_key)

.PHONY: install run serve keys test bench translations

install: $(VENV)/.installed translations

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Compile the .po catalogs into the .mo files Flask-Babel reads (not committed).
translations: $(VENV)/.installed
	@if ls translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
		$(BIN)/pybabel -q compile -d translations; fi

# The keys the server needs, made once in instance/ and kept between runs.
keys: install
	@mkdir -p $(INSTANCE)
	@test -s $(INSTANCE)/secret_key || $(BIN)/python -c \
		'import secrets; print(secrets.token_hex(32))' > $(INSTANCE)/secret_key
	@test -s $(INSTANCE)/email_hash_key || $(BIN)/python -c \
		'import secrets; print(secrets.token_hex(32))' > $(INSTANCE)/email_hash_key

run: keys
	$(KEYS) $(BIN)/flask consent init-db
	$(KEYS) $(BIN)/flask consent publish-policy
	$(KEYS) $(BIN)/flask run --host 127.0.0.1 --port 5000

# Production: gunicorn with gunicorn.conf.py (threaded workers, limits, logs without personal
# data) on CONSENT_BIND (default 127.0.0.1:8000). Set CONSENT_PUBLIC_URL and the keys for real.
serve: keys
	$(KEYS) $(BIN)/flask consent init-db
	$(KEYS) $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/http_bench.py $(BENCH_ARGS)
