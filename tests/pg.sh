# A throw-away PostgreSQL 15 server for tests (sourced, bash).
#
#   . tests/pg.sh
#   pg_start DIR     # initdb in DIR and start a server listening on a Unix
#                    # socket in DIR only; sets PG_SOCKDIR and PG_PORT
#                    # (PG_PORT=N: also on 127.0.0.1 port N, TCP)
#   pg_url DB        # prints postgresql:///DB?host=...&user=postgres
#   pg_createdb DB   # a fresh empty database
#   pg_stop DIR      # stops the server (the caller removes DIR)
#
# CI runs as root and PostgreSQL refuses to, so the server runs as the
# `postgres` system user (runuser); DIR is handed to it.
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

pg_as() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	# $1 = empty directory
	local dir=$1 tcp=""
	if [ ! -x "$PG_BIN/initdb" ]; then
		echo "pg.sh: no PostgreSQL 15 server in $PG_BIN (scripts/install-deps.sh test installs it)" >&2
		return 1
	fi
	mkdir -p "$dir"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	chmod 700 "$dir"
	# PG_PWFILE: the superuser gets that password and TCP clients must give it.
	local auth="-A trust"
	if [ -n "${PG_PWFILE:-}" ]; then
		cp "$PG_PWFILE" "$dir/pw"
		[ "$(id -u)" -eq 0 ] && chown postgres: "$dir/pw"
		auth="--auth-local=trust --auth-host=scram-sha-256 --pwfile=$dir/pw"
	fi
	pg_as "$PG_BIN/initdb" -D "$dir/data" -U postgres $auth --no-sync -E UTF8 \
		--locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
	rm -f "$dir/pw"
	# Unix socket only, in DIR: no port to collide with another test's server.
	if [ -n "${PG_PORT:-}" ]; then
		tcp=127.0.0.1
	else
		PG_PORT=5432 # the socket's name only: no TCP
	fi
	PG_SOCKDIR=$dir
	export PG_SOCKDIR PG_PORT
	pg_restart "$dir" "$tcp"
}

# pg_restart DIR [TCP ADDRESS]: starts the server of pg_start again after a pg_stop.
pg_restart() {
	pg_as "$PG_BIN/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 \
		-o "-k $1 -p $PG_PORT -c listen_addresses=${2:-} -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start >/dev/null || { cat "$1/server.log" >&2; return 1; }
}

# pg_stop DIR [MODE]: immediate by default (nothing to keep)
pg_stop() {
	pg_as "$PG_BIN/pg_ctl" -D "$1/data" -m "${2:-immediate}" -w stop >/dev/null 2>&1
}

pg_url() {
	echo "postgresql:///$1?host=$PG_SOCKDIR&port=$PG_PORT&user=postgres"
}

pg_createdb() {
	"$PG_BIN/psql" -X -q -h "$PG_SOCKDIR" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
		-c "CREATE DATABASE \"$1\"" >/dev/null
}
