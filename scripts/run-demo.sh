#!/usr/bin/env bash
# Start the embedded platform: one Celery worker on every queue with beat inside it, and the web server.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
# The embedded mode turns DEBUG on explicitly (known demo secrets, no TOTP); never a deployment.
export DJANGO_SETTINGS_MODULE=palimpsest.settings_dev
PORT="${PORT:-8000}"
mkdir -p var/log
# One intra-op torch thread, as the compose workers and the scenario's own worker run: screening runs two
# lanes of one thread each, and beside the web server a second thread only contends (the gate took 165 s
# with two threads under load, 10 s with one). Set OMP_NUM_THREADS to override.
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" \
$BIN/celery -A palimpsest.celery worker -B -Q cpu,gpu,eval --pool solo --loglevel INFO \
  --schedule var/celerybeat-schedule >var/log/worker.log 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null || true' EXIT INT TERM
cat <<MSG

  Palimpsest is running (embedded mode: SQLite, filesystem broker, e-mails as files in var/mail).

    Portal:          http://127.0.0.1:$PORT/
    Staff sign-in:   http://127.0.0.1:$PORT/accounts/login/
    API docs:        http://127.0.0.1:$PORT/api/v1/docs/

  Demo logins (password: palimpsest-demo):
    officer, officer2   compliance officers (two, for four-eyes approvals)
    release             release manager
    operator            ML operator
    admin               superuser (/admin/)

  Walk the journey by hand (use a private window for the subject, another for staff):
    1. Data subject: http://127.0.0.1:$PORT/forget/ - fill in the form with any e-mail address
       and press "Send my request". To see the model forget someone it was trained on, use a "member"
       name from var/demo/world/people.jsonl and upload all that person's texts, e.g.
       grep '"person_id": "p0002"' var/demo/world/train.jsonl > p0002.jsonl
    2. The e-mail is the newest file in $PWD/var/mail/: type its six-digit code
       on the confirmation page (or open its link). Keep its status link. Screening runs by itself.
    3. Officer: sign in as officer, open http://127.0.0.1:$PORT/review/, open the request, "Approve".
    4. Operator: sign in as operator, open http://127.0.0.1:$PORT/jobs/, press "Batch now" and watch
       the job. The verification gate runs by itself when the job ends (report under /releases/).
    5. Release manager: sign in as release, open http://127.0.0.1:$PORT/releases/, open the new
       version, "Approve for release", then "Publish to production".
    6. Data subject: the status page now reads "Completed"; the newest e-mail in var/mail/ links to
       the certificate.
  Guides: docs/guide-*.md. The same journey in one command (another terminal):
    DJANGO_SETTINGS_MODULE=palimpsest.settings_dev $BIN/python manage.py run_demo_scenario --requests 5

  Worker log: var/log/worker.log    Stop with Ctrl-C.

MSG
$BIN/python manage.py runserver "127.0.0.1:$PORT" --noreload
