#!/usr/bin/env bash
# Run a command with PostgreSQL and Redis available. Uses DATABASE_URL / REDIS_URL when given;
# otherwise starts throwaway servers from the installed binaries in a temporary folder, on free
# ports, and removes them afterwards.
set -euo pipefail

tmp=$(mktemp -d /tmp/palimpsest-services.XXXXXX)
pg_bin=""
cleanup() {
  if [ -n "${pg_started:-}" ]; then
    as_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true
  fi
  if [ -n "${redis_pid:-}" ]; then kill "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
as_pg() {
  # initdb and postgres refuse to run as root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ -z "${DATABASE_URL:-}" ]; then
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$pg_bin" ] || { echo "PostgreSQL binaries not found: install the Debian package 'postgresql'." >&2; exit 1; }
  port=$(free_port)
  mkdir -p "$tmp/pg" "$tmp/sock"
  [ "$(id -u)" = 0 ] && chown -R postgres "$tmp" && chmod 755 "$tmp"
  as_pg "$pg_bin/initdb" -D "$tmp/pg" -U postgres --auth=trust -E UTF8 >/dev/null
  as_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w \
    -o "-p $port -k $tmp/sock -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" start >/dev/null
  pg_started=1
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/palimpsest"
  echo "started a throwaway PostgreSQL on port $port"
fi

if [ -z "${REDIS_URL:-}" ]; then
  command -v redis-server >/dev/null || { echo "redis-server not found: install the Debian package 'redis-server'." >&2; exit 1; }
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" --logfile "$tmp/redis.log" &
  redis_pid=$!
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  export REDIS_URL="redis://127.0.0.1:$port/0"
  echo "started a throwaway Redis on port $port"
fi
export CELERY_BROKER_URL="${CELERY_BROKER_URL:-$REDIS_URL}"

"$@"
