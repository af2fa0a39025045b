# Sourced by tests/e2e/ha-stack.sh: a throwaway PostgreSQL 15 (Debian's) on loopback, stopped by its PID.
# shellcheck shell=bash
#
# The shell twin of tests/support/postgres_server.hpp: initdb into a mktemp folder; when the tests run as
# root (CI), the folder belongs to the package's system user `postgres`, which runs initdb and the server
# (setpriv execs the program itself, so $pg_pid is the server's PID, and --pdeathsig INT stops the server
# when the test's shell dies without its trap). Listens on 127.0.0.1 only; its unix socket is in the folder.
# fsync off: a throwaway server, and nothing here measures durability.
#
#   pg_init LOG                 initdb (output appended to LOG); sets pg_dir
#   pg_start_on_a_free_port     picks a port (scripts/lib/free-port.sh must be sourced), starts, waits
#                               until it accepts connections; another port when the bind lost a race (5 tries)
#   pg_start                    starts again on $pg_port with the same data (after pg_stop)
#   pg_stop                     fast shutdown (SIGINT: every session ended; SIGTERM would wait for the
#                               receivers' connections to close), at most 10 s, then SIGKILL. Idempotent.
#   pg_ready                    true while the server accepts connections
#   pg_remove                   deletes the folder (after pg_stop)
# Uses: pg_dir, pg_port, pg_pid, pg_log.

pg_bin=/usr/lib/postgresql/15/bin
pg_dir=""
pg_port=""
pg_pid=""
pg_log=""
pg_as_user=()

pg_init() {
  pg_log="$1"
  if [ ! -x "$pg_bin/initdb" ]; then
    echo "no $pg_bin/initdb: run scripts/install-deps.sh --tests (Debian's postgresql-15)" >&2
    return 1
  fi
  pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/ha-stack-postgres.XXXXXX")"
  pg_as_user=(setpriv)
  if [ "$(id -u)" = 0 ]; then
    local uid gid
    if ! uid="$(id -u postgres 2>/dev/null)"; then
      echo "the test runs as root and there is no user postgres: run scripts/install-deps.sh --tests" >&2
      return 1
    fi
    gid="$(id -g postgres)"
    chown "$uid:$gid" "$pg_dir"
    pg_as_user=(setpriv "--reuid=$uid" "--regid=$gid" --clear-groups)
  fi
  "${pg_as_user[@]}" -- "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust -E UTF8 --locale=C \
    --no-sync --no-instructions >>"$pg_log" 2>&1
}

pg_ready() {
  "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" -U postgres -t 2 >/dev/null 2>&1
}

# Starts the server on $pg_port and waits (at most 20 s) until it accepts connections; 1 when it ended
# or did not get ready.
pg_start() {
  "${pg_as_user[@]}" --pdeathsig INT -- "$pg_bin/postgres" -D "$pg_dir/data" -k "$pg_dir" -h 127.0.0.1 \
    -p "$pg_port" -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
    -c max_connections=100 >>"$pg_log" 2>&1 &
  pg_pid=$!
  local i
  for ((i = 0; i < 200; i++)); do
    pg_ready && return 0
    kill -0 "$pg_pid" 2>/dev/null || { wait "$pg_pid" 2>/dev/null; pg_pid=""; return 1; }
    sleep 0.1
  done
  pg_stop
  return 1
}

pg_start_on_a_free_port() {
  local attempt
  for ((attempt = 0; attempt < 5; attempt++)); do
    pg_port="$(free_port)" || return 1
    pg_start && return 0
    grep -qsE 'could not bind|could not create any TCP/IP sockets' "$pg_log" || return 1
  done
  return 1
}

pg_stop() {
  [ -n "$pg_pid" ] || return 0
  kill -INT "$pg_pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 100; i++)); do kill -0 "$pg_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pg_pid" 2>/dev/null || true
  wait "$pg_pid" 2>/dev/null || true
  pg_pid=""
}

pg_remove() {
  [ -n "$pg_dir" ] && rm -rf "$pg_dir"
  pg_dir=""
}
