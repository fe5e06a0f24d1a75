# Presence Heartbeat — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-embedded test-scaled test-production test-long lint format bench venv clean env messages

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

# .env with fresh secrets for the embedded default: created, or completed with what it lacks
# (the myApps App objects' passwords too); a value that is there is never changed.
env:
	@$(PYTHON) -m heartbeat_site.envfile .env

run: venv env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensureadmin
	$(BIN)/python manage.py license demo
	$(BIN)/python manage.py runheartbeat

# The whole suite twice: on the embedded default (SQLite + in-memory layer), then on real
# PostgreSQL + Redis started from Debian's packages by tests/services.py; then the production
# set-up as deploy/install.sh installs it (tests/production: nginx, gunicorn, daphne, link workers).
test: venv test-embedded test-scaled test-production

test-embedded: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=heartbeat_site.settings_test
	$(BIN)/pytest -m "not slow and not production"

test-scaled: venv
	$(BIN)/python -m tests.services -- $(BIN)/pytest -m "not slow and not production"

test-production: venv
	$(BIN)/pytest -m production tests/production

test-long: venv
	$(BIN)/pytest -m slow

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The German catalogue: new and changed texts from the code and templates into locale/de/…/django.po
# (translate what is new or fuzzy there), then compile it. The compiled django.mo is committed, so that
# `make run` needs no gettext; `make test` fails when it is older than the .po or a text is untranslated.
MESSAGES_IGNORE := --ignore=tests --ignore=var --ignore=test-output --ignore=deploy --ignore=docs
messages: venv
	$(BIN)/python manage.py makemessages --locale=de --no-obsolete --add-location=file $(MESSAGES_IGNORE) \
		--settings=heartbeat_site.settings_test
	msgfmt --check -o locale/de/LC_MESSAGES/django.mo locale/de/LC_MESSAGES/django.po

bench: venv env
	$(BIN)/python -m tests.bench.run_all

clean:
	rm -rf $(VENV) var test-output
