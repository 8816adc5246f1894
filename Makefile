# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test install lint format bench-engine bench-screening bench-journey bench-portal bench-quality bench-batching clean-demo

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

## make demo: install, migrate, build the demo world and model, start web + worker + beat (embedded mode).
demo: export DJANGO_SETTINGS_MODULE := palimpsest.settings_dev
demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py build_demo_world
	$(BIN)/python manage.py seed_demo_users
	scripts/run-demo.sh

## make test: install, make sure PostgreSQL/Redis/Chromium exist, run the whole suite on them.
test: install
	scripts/system-deps.sh
	$(BIN)/ruff check .
	scripts/with-services.sh $(BIN)/python -m pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench-engine: install
	$(BIN)/python benchmarks/bench_engine.py

bench-screening: install
	$(BIN)/python benchmarks/bench_screening.py

## make bench-portal: load on the public API, the review queue with 100 000 requests, the hostile corpus.
bench-portal: install
	scripts/with-services.sh $(BIN)/python benchmarks/bench_portal.py

## make bench-quality: every method, LoRA and full, forgetting 1/5/10 % of the demo world, judged as the gate
## judges (about 1 h of training and three retrainings of about 20 min each on one CPU thread; rows are reused).
bench-quality: install
	$(BIN)/python benchmarks/bench_quality.py --root var/demo

bench-batching: install
	$(BIN)/python benchmarks/bench_batching.py --world var/demo --requests 50 --items 0 --gate

bench-journey: install
	$(BIN)/python benchmarks/bench_journey.py --mode embedded --requests 5

## make clean-demo: forget the embedded platform's state (database, broker, mail, artifacts, keys); the
## trained demo world under var/demo is kept, so the next `make demo` starts fresh in seconds.
clean-demo:
	rm -rf var/palimpsest.sqlite3 var/broker var/mail var/artifacts var/keys var/audit var/celerybeat-schedule var/log
