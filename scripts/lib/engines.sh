# shellcheck shell=bash disable=SC2034
# (SC2034: the ENGINES_* globals set here are outputs read by callers.)
# Throwaway PostgreSQL and MariaDB servers for the test suite.
#
# Sourced by scripts/test.sh (and usable by other scripts). Everything lives in
# one temp dir on free loopback ports; the system-wide services are never
# started or stopped, and stay enabled at boot only if they were before. The functions set ENGINES_* globals:
#
#   engines_ensure_packages   apt-install what is missing (the engines, and the compiler,
#                             python3-venv, npm... the tests need); boot services as found
#   engines_make_tmpdir       ENGINES_TMPDIR
#   engines_start_postgres    ENGINES_PG_PORT, ENGINES_PG_URL (superuser)
#   engines_start_mariadb     ENGINES_MARIADB_PORT, ENGINES_MARIADB_URL
#   engines_teardown          stop both servers, remove the temp dir
#
# Callers are expected to run with `set -euo pipefail` and to call
# engines_teardown from an EXIT trap.

ENGINES_LOG_PREFIX=${ENGINES_LOG_PREFIX:-[engines]}
ENGINES_DB_USER=${ENGINES_DB_USER:-sluicegate}
ENGINES_FALLBACK_OS_USER=sluicegate-test
ENGINES_START_TIMEOUT=${ENGINES_START_TIMEOUT:-60}
ENGINES_POLICY_RC=${ENGINES_POLICY_RC:-/usr/sbin/policy-rc.d}

ENGINES_TMPDIR=
ENGINES_PASSWORD=
ENGINES_POLICY_RC_CREATED=0
ENGINES_PG_BINDIR=
ENGINES_PG_OS_USER=
ENGINES_PG_DATA=
ENGINES_PG_PORT=
ENGINES_PG_URL=
ENGINES_MARIADB_OS_USER=
ENGINES_MARIADB_DIR=
ENGINES_MARIADB_PID=
ENGINES_MARIADB_PORT=
ENGINES_MARIADB_URL=

engines_log() { printf '%s %s\n' "$ENGINES_LOG_PREFIX" "$*" >&2; }
engines_fail() {
	engines_log "ERROR: $*"
	return 1
}

engines_is_root() { [[ $(id -u) -eq 0 ]]; }

# Print the last lines of a log file to stderr (used when a server won't start).
engines_show_log() {
	local file=$1
	[[ -f $file ]] || return 0
	engines_log "---- last lines of $file ----"
	tail -n 40 "$file" >&2 || true
	engines_log "---- end of $file ----"
}

# ---------------------------------------------------------------------------
# Locating binaries and installing packages
# ---------------------------------------------------------------------------

# Highest-versioned /usr/lib/postgresql/*/bin that has initdb, pg_ctl, postgres.
engines_pg_bindir() {
	local dir best=
	while IFS= read -r dir; do
		if [[ -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres ]]; then
			best=$dir
		fi
	done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -V)
	[[ -n $best ]] || return 1
	printf '%s\n' "$best"
}

# Find a MariaDB program on PATH or in the sbin dirs (mariadbd is in /usr/sbin,
# which a non-root PATH often lacks).
engines_find_prog() {
	local name=$1 dir
	if command -v "$name" >/dev/null 2>&1; then
		command -v "$name"
		return 0
	fi
	for dir in /usr/sbin /usr/bin /sbin /usr/local/sbin /usr/local/bin; do
		if [[ -x $dir/$name ]]; then
			printf '%s\n' "$dir/$name"
			return 0
		fi
	done
	return 1
}

engines_have_mariadb() {
	local prog
	for prog in mariadbd mariadb-install-db mariadb mariadb-admin; do
		engines_find_prog "$prog" >/dev/null || return 1
	done
}

# What the test suite needs from the system, one line each: Debian package, then a check that
# passes when what the package would provide is already there (from any source: a pyenv
# python3 or a NodeSource npm counts). Only the failing ones are installed.
ENGINES_PREREQUISITES=(
	'ca-certificates|[[ -s /etc/ssl/certs/ca-certificates.crt ]]'
	'gcc|type -P cc >/dev/null'
	'libc6-dev|[[ -e /usr/include/stdio.h ]]'
	'procps|type -P kill >/dev/null'
	'openssl|type -P openssl >/dev/null'
	'strace|type -P strace >/dev/null'
	'python3|type -P python3 >/dev/null'
	'python3-venv|python3 -c "import ensurepip, venv" >/dev/null 2>&1'
	'npm|type -P npm >/dev/null && type -P node >/dev/null'
	'chromium|type -P chromium >/dev/null'
	'postgresql|engines_pg_bindir >/dev/null'
	'mariadb-server|engines_have_mariadb'
	'mariadb-client|engines_have_mariadb'
)

# Every service started at boot, one per line, sorted: `sysv:NAME` for each SysV rc start
# link, `systemd:UNIT` for each enabled systemd service. A package (or one it pulls in, like
# rsync with mariadb-server) may add either.
engines_boot_services() {
	local link name
	{
		for link in /etc/rc[2-5].d/S[0-9][0-9]*; do
			[[ -e $link ]] || continue
			name=${link##*/}
			printf 'sysv:%s\n' "${name:3}"
		done
		if command -v systemctl >/dev/null 2>&1; then
			systemctl list-unit-files --state=enabled --type=service --no-legend 2>/dev/null |
				awk '{print "systemd:" $1}'
		fi
	} | sort -u
}

# engines_restore_boot_services BEFORE: turn off at boot every service that is enabled now but
# was not in BEFORE (an engines_boot_services listing taken before the install).
engines_restore_boot_services() {
	local before=$1 entry
	while IFS= read -r entry; do
		[[ -n $entry ]] || continue
		case $entry in
		sysv:*) update-rc.d "${entry#sysv:}" disable >/dev/null 2>&1 || true ;;
		systemd:*) systemctl disable --quiet "${entry#systemd:}" >/dev/null 2>&1 || true ;;
		esac
		if engines_boot_services | grep -qxF "$entry"; then
			engines_log "WARNING: the install enabled $entry at boot and it could not be disabled"
		else
			engines_log "the install enabled $entry at boot; disabled again, as it was before"
		fi
	done < <(comm -13 <(printf '%s\n' "$before") <(engines_boot_services))
}

# Install the Debian packages whose check fails; no apt at all when none does. Services the
# packages enable at boot are disabled again unless they were enabled before, and the install
# never starts them (policy-rc.d), so the machine's services end up as they were found.
engines_ensure_packages() {
	local pkgs=() entry pkg check
	for entry in "${ENGINES_PREREQUISITES[@]}"; do
		pkg=${entry%%|*}
		check=${entry#*|}
		eval "$check" || pkgs+=("$pkg")
	done
	if ((${#pkgs[@]} == 0)); then
		engines_log "every prerequisite is present; nothing to install with apt"
		return 0
	fi
	if ! engines_is_root; then
		engines_fail "missing Debian packages: ${pkgs[*]}. Run this script as root, or install them first:" \
			"sudo apt-get install -y --no-install-recommends ${pkgs[*]}"
		return 1
	fi
	command -v apt-get >/dev/null 2>&1 || {
		engines_fail "apt-get not found; install ${pkgs[*]} by hand (Debian 12 is expected)"
		return 1
	}

	# What starts at boot now, before the packages can enable their services.
	local boot_before
	boot_before=$(engines_boot_services)

	engines_log "installing missing Debian packages: ${pkgs[*]} (no service will be started)"
	# Keep the packages' postinst scripts from starting the system services.
	# A policy-rc.d that already exists (Docker images ship one) is left as is.
	if [[ ! -e $ENGINES_POLICY_RC ]]; then
		printf '#!/bin/sh\n# Temporary, created by sluicegate scripts/lib/engines.sh\nexit 101\n' >"$ENGINES_POLICY_RC"
		chmod 0755 "$ENGINES_POLICY_RC"
		ENGINES_POLICY_RC_CREATED=1
	fi

	local rc=0 apt_log start=$SECONDS
	apt_log=$(mktemp "${TMPDIR:-/tmp}/sluicegate-apt.XXXXXX.log")
	engines_apt "$apt_log" "${pkgs[@]}" || rc=$?
	engines_remove_policy_rc
	# Also after a failed install: a half-configured package may have enabled its service.
	engines_restore_boot_services "$boot_before"
	if ((rc != 0)); then
		engines_show_log "$apt_log"
		rm -f "$apt_log"
		engines_fail "installing ${pkgs[*]} with apt-get failed (exit $rc)"
		return "$rc"
	fi
	rm -f "$apt_log"
	engines_log "installed ${pkgs[*]} in $((SECONDS - start)) s"
	for entry in "${ENGINES_PREREQUISITES[@]}"; do
		check=${entry#*|}
		eval "$check" || {
			engines_fail "${entry%%|*} is installed but its check still fails: $check"
			return 1
		}
	done
}

# engines_apt LOGFILE PACKAGE...: apt-get update + install, output to LOGFILE.
engines_apt() {
	local log=$1 attempt apt_opts=(-q -o DPkg::Lock::Timeout=300)
	shift
	for attempt in 1 2 3; do
		if apt-get "${apt_opts[@]}" update >>"$log" 2>&1; then
			break
		fi
		((attempt < 3)) || return 1
		engines_log "apt-get update failed; retrying in 5 s"
		sleep 5
	done
	for attempt in 1 2 3; do
		if DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y --no-install-recommends \
			-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >>"$log" 2>&1; then
			return 0
		fi
		((attempt < 3)) || return 1
		engines_log "apt-get install failed; retrying in 5 s"
		sleep 5
	done
}

engines_remove_policy_rc() {
	if ((ENGINES_POLICY_RC_CREATED == 1)); then
		rm -f "$ENGINES_POLICY_RC"
		ENGINES_POLICY_RC_CREATED=0
	fi
}

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

# A free TCP port on 127.0.0.1.
engines_free_port() {
	local port
	if command -v python3 >/dev/null 2>&1 &&
		port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' 2>/dev/null) && [[ $port =~ ^[0-9]+$ ]]; then
		printf '%s\n' "$port"
		return 0
	fi
	# Fallback: random high ports that nothing answers on.
	local _
	for _ in $(seq 1 200); do
		port=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	engines_fail "could not find a free port on 127.0.0.1"
}

# A random URL-safe password (hex).
engines_random_password() {
	od -An -tx1 -N16 /dev/urandom | tr -d ' \n'
}

# The OS user to run a server as: the preferred system user if it exists, else
# a system user of our own (created on demand). Non-root runs as itself.
engines_os_user() {
	local preferred=$1
	if ! engines_is_root; then
		id -un
		return 0
	fi
	if getent passwd "$preferred" >/dev/null; then
		printf '%s\n' "$preferred"
		return 0
	fi
	if ! getent passwd "$ENGINES_FALLBACK_OS_USER" >/dev/null; then
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
			"$ENGINES_FALLBACK_OS_USER" >&2 || {
			engines_fail "could not create system user $ENGINES_FALLBACK_OS_USER"
			return 1
		}
	fi
	printf '%s\n' "$ENGINES_FALLBACK_OS_USER"
}

# Run a command as the given OS user (directly when that is us), from a cwd it
# can read.
engines_as_user() {
	local user=$1
	shift
	if [[ $user == "$(id -un)" ]]; then
		(cd "$ENGINES_TMPDIR" && "$@")
	elif command -v runuser >/dev/null 2>&1; then
		(cd "$ENGINES_TMPDIR" && runuser -u "$user" -- "$@")
	else
		(cd "$ENGINES_TMPDIR" && su -s /bin/sh "$user" -c "$(printf '%q ' "$@")")
	fi
}

# Is the process running (a zombie waiting to be reaped counts as gone)?
engines_pid_alive() {
	local state
	[[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
	[[ $state != Z ]]
}

# Wait up to $2 seconds for a pid to go away.
engines_wait_pid_gone() {
	local pid=$1 n=0 max=$(($2 * 4))
	while engines_pid_alive "$pid" && ((n < max)); do
		sleep 0.25
		n=$((n + 1))
	done
	! engines_pid_alive "$pid"
}

# ---------------------------------------------------------------------------
# Temp dir
# ---------------------------------------------------------------------------

engines_make_tmpdir() {
	local base=${TMPDIR:-/tmp}
	# Unix socket paths are limited to ~107 bytes and go into pg_ctl's -o
	# string, so fall back to /tmp for long or odd temp bases.
	if ((${#base} > 60)) || [[ $base =~ [^A-Za-z0-9/._-] ]] || [[ ! -d $base || ! -w $base ]]; then
		base=/tmp
	fi
	ENGINES_TMPDIR=$(mktemp -d "$base/sluicegate-test.XXXXXX")
	# The servers run as other users and must be able to reach their subdirs.
	chmod 0755 "$ENGINES_TMPDIR"
	[[ -n $ENGINES_PASSWORD ]] || ENGINES_PASSWORD=$(engines_random_password)
	engines_log "temp dir: $ENGINES_TMPDIR"
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------

engines_start_postgres() {
	local bindir user dir data sock log pwfile port attempt locale
	bindir=$(engines_pg_bindir) || {
		engines_fail "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
		return 1
	}
	user=$(engines_os_user postgres)
	dir=$ENGINES_TMPDIR/pg
	data=$dir/data
	sock=$dir/sock
	log=$dir/postgres.log
	pwfile=$dir/pwfile
	ENGINES_PG_BINDIR=$bindir
	ENGINES_PG_OS_USER=$user
	ENGINES_PG_DATA=$data

	mkdir -p "$dir" "$sock"
	printf '%s\n' "$ENGINES_PASSWORD" >"$pwfile"
	chmod 0600 "$pwfile"
	chmod 0755 "$dir" "$sock"
	chown -R "$user" "$dir"

	locale=C
	if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
		locale=C.UTF-8
	fi

	engines_log "postgres: initdb ($bindir, as OS user $user)"
	if ! engines_as_user "$user" "$bindir/initdb" -D "$data" -U "$ENGINES_DB_USER" --pwfile="$pwfile" \
		--auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale="$locale" --no-sync \
		>"$dir/initdb.log" 2>&1; then
		engines_show_log "$dir/initdb.log"
		engines_fail "postgres: initdb failed"
		return 1
	fi
	rm -f "$pwfile"

	for attempt in 1 2 3; do
		port=$(engines_free_port)
		engines_log "postgres: starting on 127.0.0.1:$port"
		if engines_as_user "$user" "$bindir/pg_ctl" -D "$data" -l "$log" -w -t "$ENGINES_START_TIMEOUT" \
			-o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			start >"$dir/pg_ctl.log" 2>&1; then
			ENGINES_PG_PORT=$port
			ENGINES_PG_URL="postgres://$ENGINES_DB_USER:$ENGINES_PASSWORD@127.0.0.1:$port/postgres"
			engines_log "postgres: ready on 127.0.0.1:$port"
			return 0
		fi
		engines_stop_postgres
		if ((attempt < 3)) && grep -q 'Address already in use' "$log" 2>/dev/null; then
			engines_log "postgres: port $port was taken; retrying"
			continue
		fi
		break
	done
	engines_show_log "$dir/pg_ctl.log"
	engines_show_log "$log"
	engines_fail "postgres: server did not start"
	return 1
}

engines_stop_postgres() {
	local data=$ENGINES_PG_DATA pid=
	[[ -n $data && -f $data/postmaster.pid ]] || return 0
	pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
	engines_as_user "$ENGINES_PG_OS_USER" "$ENGINES_PG_BINDIR/pg_ctl" -D "$data" -m immediate -w -t 30 stop \
		>/dev/null 2>&1 || true
	# pg_ctl returns once postmaster.pid is gone; wait for the process too.
	if [[ $pid =~ ^[0-9]+$ ]] && ! engines_wait_pid_gone "$pid" 10; then
		kill -KILL "$pid" 2>/dev/null || true
		engines_wait_pid_gone "$pid" 5 || true
	fi
	return 0
}

# ---------------------------------------------------------------------------
# MariaDB
# ---------------------------------------------------------------------------

# Run the mariadb client as the socket-authenticated admin account.
engines_mariadb_admin_sql() {
	local client admin_user
	client=$(engines_find_prog mariadb)
	admin_user=root
	engines_is_root || admin_user=$(id -un)
	"$client" --no-defaults --protocol=socket --socket="$ENGINES_MARIADB_DIR/mysqld.sock" -u"$admin_user" "$@"
}

engines_start_mariadb() {
	local user dir data install_db mariadbd admin port attempt waited
	install_db=$(engines_find_prog mariadb-install-db)
	mariadbd=$(engines_find_prog mariadbd)
	admin=$(engines_find_prog mariadb-admin)
	user=$(engines_os_user mysql)
	dir=$ENGINES_TMPDIR/mariadb
	data=$dir/data
	ENGINES_MARIADB_OS_USER=$user
	ENGINES_MARIADB_DIR=$dir

	mkdir -p "$dir" "$dir/tmp"
	chmod 0755 "$dir"
	chown -R "$user" "$dir"

	engines_log "mariadb: mariadb-install-db (as OS user $user)"
	# --no-defaults must come first; it keeps /etc/mysql/* (the system
	# instance's config) out of the way.
	if ! (cd "$ENGINES_TMPDIR" && "$install_db" --no-defaults --user="$user" --datadir="$data" \
		--auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
		--tmpdir="$dir/tmp" >"$dir/install-db.log" 2>&1); then
		engines_show_log "$dir/install-db.log"
		engines_fail "mariadb: mariadb-install-db failed"
		return 1
	fi

	for attempt in 1 2 3; do
		port=$(engines_free_port)
		engines_log "mariadb: starting on 127.0.0.1:$port"
		rm -f "$dir/mysqld.pid" "$dir/mysqld.sock"
		(cd "$ENGINES_TMPDIR" && exec "$mariadbd" --no-defaults --user="$user" --datadir="$data" \
			--port="$port" --bind-address=127.0.0.1 --socket="$dir/mysqld.sock" \
			--pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" --tmpdir="$dir/tmp" \
			--skip-log-bin --skip-name-resolve --innodb-flush-log-at-trx-commit=2 \
			--max-connections=200 --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
			</dev/null >>"$dir/mariadbd.out" 2>&1) &
		ENGINES_MARIADB_PID=$!

		waited=0
		while ((waited < ENGINES_START_TIMEOUT * 4)); do
			if ! engines_pid_alive "$ENGINES_MARIADB_PID"; then
				break
			fi
			if [[ -S $dir/mysqld.sock ]] &&
				"$admin" --no-defaults --protocol=socket --socket="$dir/mysqld.sock" -uroot \
					--connect-timeout=2 ping >/dev/null 2>&1; then
				ENGINES_MARIADB_PORT=$port
				break
			fi
			sleep 0.25
			waited=$((waited + 1))
		done
		[[ -n $ENGINES_MARIADB_PORT ]] && break

		engines_stop_mariadb
		if ((attempt < 3)) && grep -qiE 'Address already in use|Do you already have another' "$dir/error.log" 2>/dev/null; then
			engines_log "mariadb: port $port was taken; retrying"
			continue
		fi
		engines_show_log "$dir/error.log"
		engines_show_log "$dir/mariadbd.out"
		engines_fail "mariadb: server did not become ready within ${ENGINES_START_TIMEOUT}s"
		return 1
	done
	[[ -n $ENGINES_MARIADB_PORT ]] || {
		engines_fail "mariadb: server did not start"
		return 1
	}

	local u=$ENGINES_DB_USER pw=$ENGINES_PASSWORD
	if ! engines_mariadb_admin_sql -e "
		DROP USER IF EXISTS ''@'localhost';
		CREATE USER '$u'@'127.0.0.1' IDENTIFIED BY '$pw';
		CREATE USER '$u'@'localhost' IDENTIFIED BY '$pw';
		GRANT ALL PRIVILEGES ON *.* TO '$u'@'127.0.0.1' WITH GRANT OPTION;
		GRANT ALL PRIVILEGES ON *.* TO '$u'@'localhost' WITH GRANT OPTION;
		FLUSH PRIVILEGES;" >"$dir/create-user.log" 2>&1; then
		engines_show_log "$dir/create-user.log"
		engines_fail "mariadb: could not create user $u"
		return 1
	fi
	ENGINES_MARIADB_URL="mysql://$u:$pw@127.0.0.1:$ENGINES_MARIADB_PORT"
	engines_log "mariadb: ready on 127.0.0.1:$ENGINES_MARIADB_PORT"
}

# Is this pid a MariaDB server (guards against killing a recycled pid)?
engines_is_mariadbd() {
	local comm
	comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
	[[ $comm == mariadbd || $comm == mysqld || $comm == bash ]]
}

engines_stop_mariadb() {
	local pids=() pid
	[[ -n $ENGINES_MARIADB_PID ]] && pids+=("$ENGINES_MARIADB_PID")
	if [[ -n $ENGINES_MARIADB_DIR && -f $ENGINES_MARIADB_DIR/mysqld.pid ]]; then
		pid=$(head -n 1 "$ENGINES_MARIADB_DIR/mysqld.pid" 2>/dev/null || true)
		[[ $pid =~ ^[0-9]+$ && $pid != "${ENGINES_MARIADB_PID:-}" ]] && pids+=("$pid")
	fi
	((${#pids[@]} > 0)) || return 0
	for pid in "${pids[@]}"; do
		if engines_pid_alive "$pid" && engines_is_mariadbd "$pid"; then
			kill -TERM "$pid" 2>/dev/null || true
		fi
	done
	for pid in "${pids[@]}"; do
		if ! engines_wait_pid_gone "$pid" 20 && engines_is_mariadbd "$pid"; then
			kill -KILL "$pid" 2>/dev/null || true
			engines_wait_pid_gone "$pid" 5 || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	ENGINES_MARIADB_PID=
	return 0
}

# ---------------------------------------------------------------------------
# Teardown (safe to call more than once, never fails)
# ---------------------------------------------------------------------------

engines_teardown() {
	engines_remove_policy_rc || true
	engines_stop_postgres || true
	engines_stop_mariadb || true
	if [[ -n $ENGINES_TMPDIR && -d $ENGINES_TMPDIR ]]; then
		rm -rf -- "$ENGINES_TMPDIR" || true
		engines_log "removed $ENGINES_TMPDIR"
	fi
	ENGINES_TMPDIR=
	return 0
}
