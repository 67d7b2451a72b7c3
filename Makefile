# Two commands on a fresh machine:  make run   and   make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

# Test services (see README "Configuration"); .ci/run and scripts/services.sh start them.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/dmengine
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
TEST_BROKER_URL ?= redis://127.0.0.1:6379/1

.PHONY: run demo-reply services test test-sqlite lint typecheck bench install prod-check

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,bench]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# The demo: Telegram goes to the fake platform (the Procfile's fourth process), which posts
# signed webhooks back; email is printed by the worker. Any of these can be overridden.
FAKE_PLATFORM_PORT ?= 8765
WEB_PORT ?= 8000
DEMO_ENV = DEBUG=$${DEBUG:-true} PLATFORM_BACKENDS=$${PLATFORM_BACKENDS:-true} \
	FAKE_PLATFORM_PORT=$(FAKE_PLATFORM_PORT) WEB_PORT=$(WEB_PORT) \
	FAKE_PLATFORM_URL=$${FAKE_PLATFORM_URL:-http://127.0.0.1:$(FAKE_PLATFORM_PORT)} \
	PLATFORM_BASE_URL=$${PLATFORM_BASE_URL:-http://127.0.0.1:$(FAKE_PLATFORM_PORT)} \
	TELEGRAM_WEBHOOK_SECRET=$${TELEGRAM_WEBHOOK_SECRET:-demo-telegram-secret} \
	EMAIL_BACKEND=$${EMAIL_BACKEND:-django.core.mail.backends.console.EmailBackend}

## Set everything up and run web + worker + scheduler + fake platform on SQLite and the
## filesystem broker.
run: $(STAMP)
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py demo_setup
	$(DEMO_ENV) PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/honcho start -f Procfile

## While `make run` runs: a demo contact replies on Telegram and their follow-ups stop.
demo-reply: $(STAMP)
	$(DEMO_ENV) $(BIN)/python manage.py demo_reply

## What the suite needs, installed (as root on Debian, else it says what to install) and started.
services:
	scripts/services.sh

## The whole suite against PostgreSQL and Redis. `services` comes first: on a fresh Debian
## machine it also installs python3-venv, which the venv needs.
test: services $(STAMP)
	DEBUG=true DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		CELERY_BROKER_URL=$(TEST_BROKER_URL) $(BIN)/pytest $(PYTEST_ARGS)

## The same suite on the embedded default (SQLite, filesystem broker), scaled down.
test-sqlite: $(STAMP)
	mkdir -p $${VAR_DIR:-var}
	env -u DATABASE_URL -u CELERY_BROKER_URL -u REDIS_URL DEBUG=true $(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run
	DEBUG=true $(BIN)/mypy core intent contacts outreach deliverability webhooks pipelines campaigns analytics config demo fakeplatform bench

## Django's deployment checklist with production settings: DEBUG off, HTTPS only, HSTS.
## Set these as your production does (deploy/env.example); a warning fails it.
PROD_ENV = DEBUG=false \
	SECRET_KEY=$${SECRET_KEY:-prod-check-k7Qx2pR9vT4wZ8yB1nM6cJ3hF5dL0sAgE2uI7oK9qW4xV1zN8bY3} \
	ALLOWED_HOSTS=$${ALLOWED_HOSTS:-outreach.example.com} \
	SECURE_SSL_REDIRECT=$${SECURE_SSL_REDIRECT:-true} SECURE_PROXY_SSL_HEADER=$${SECURE_PROXY_SSL_HEADER:-true} \
	SECURE_HSTS_SECONDS=$${SECURE_HSTS_SECONDS:-31536000} \
	SECURE_HSTS_INCLUDE_SUBDOMAINS=$${SECURE_HSTS_INCLUDE_SUBDOMAINS:-true} \
	SECURE_HSTS_PRELOAD=$${SECURE_HSTS_PRELOAD:-true}
prod-check: $(STAMP)
	$(PROD_ENV) $(BIN)/python manage.py check --deploy --fail-level WARNING

## Type check (django-stubs) on its own; `lint` runs it too.
typecheck: $(STAMP)
	DEBUG=true $(BIN)/mypy core intent contacts outreach deliverability webhooks pipelines campaigns analytics config demo fakeplatform bench

bench: services $(STAMP)
	DEBUG=true DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		CELERY_BROKER_URL=$(TEST_BROKER_URL) $(BIN)/python -m bench
