#!/usr/bin/env bash
# Start the embedded platform: one Celery worker on every queue with beat inside it, and the web server.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
# The embedded mode turns DEBUG on explicitly (known demo secrets, no TOTP); never a deployment.
export DJANGO_SETTINGS_MODULE=palimpsest.settings_dev
PORT="${PORT:-8000}"
mkdir -p var/log
$BIN/celery -A palimpsest.celery worker -B -Q cpu,gpu,eval --pool solo --loglevel INFO \
  --schedule var/celerybeat-schedule >var/log/worker.log 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null || true' EXIT INT TERM
cat <<MSG

  Palimpsest is running (embedded mode: SQLite, filesystem broker, mail in var/mail).

    Portal:          http://127.0.0.1:$PORT/
    Staff sign-in:   http://127.0.0.1:$PORT/accounts/login/
    API docs:        http://127.0.0.1:$PORT/api/v1/docs/

  Demo logins (password: palimpsest-demo):
    officer, officer2   compliance officers
    release             release manager
    operator            ML operator
    admin               superuser (/admin/)

  Worker log: var/log/worker.log    Stop with Ctrl-C.

MSG
$BIN/python manage.py runserver "127.0.0.1:$PORT" --noreload
