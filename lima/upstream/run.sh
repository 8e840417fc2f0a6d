#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright The limastop Authors
# SPDX-License-Identifier: Apache-2.0

# Builds limactl of Lima v1.2.2 as released and with the proposal of this
# directory, and runs them side by side on simulated instances.
#
# Lima comes from the Go module proxy (go mod download) into a temporary
# directory; nothing of it is kept. Three limactl binaries are built:
#
#   v1.2.2           as released
#   proposed         pkg/instance/stop.go replaced by ./stop.go, which keeps
#                    Lima's exported functions: a drop-in
#   proposed+caller  the same, and `limactl stop -f` calls
#                    StopForciblyContext, so that a failed forced stop fails
#                    the command (a one-line change of cmd/limactl/stop.go)
#
# each for linux (run) and windows and darwin (built only). The simulated
# instances are ./simlima: real fake host agent and driver processes with
# Lima's command lines, pid files and API socket, which limactl's store sees
# as Running. Each case runs in a PID namespace of its own, whose init reaps
# orphans and whose end kills whatever the case left running; limactl, which
# refuses root, and the simulations run as an unprivileged user (nobody
# unless LIMASTOP_USER says otherwise). The cases end with a markdown table
# on stdout. The script fails if a build fails or a proposed binary does
# not do what the proposal promises; what v1.2.2 does is only reported.
#
# Linux only, as root. From anywhere:
#
#   lima/upstream/run.sh
set -euo pipefail
export LC_ALL=C
# The unprivileged user must read the binaries and reach its Lima homes.
umask 022

lima_module=github.com/lima-vm/lima
lima_version=v1.2.2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
run_user=${LIMASTOP_USER:-nobody}
# bound is how long any one command may take, in seconds.
bound=60

die() {
	printf 'run.sh: %s\n' "$*" >&2
	exit 1
}

say() { printf '\n--- %s\n' "$*" >&2; }

# as_user runs a command as the unprivileged user, with LIMA_HOME=$home;
# run_case sets $as to the command prefix that does it.
as_user() { "${as[@]}" "$@"; }

# ms_since prints the milliseconds since an $EPOCHREALTIME value.
ms_since() {
	local now=$EPOCHREALTIME
	echo $(((${now/./} - ${1/./}) / 1000))
}

# alive reports whether a PID names a running process (not a zombie).
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	# The state follows the command name, which is in parentheses.
	stat=${stat##*) }
	[[ $stat != Z* ]]
}

# start_sims starts simulated instances NAME... as the user and waits until
# they run; the PIDs are then in $case_dir/pids.<first NAME>.
start_sims() {
	local out="$case_dir/pids.$1"
	as_user "$bin/simlima" -home "$home" -o "$out" -lifetime "${bound}s" "$@" \
		>>"$case_dir/simlima.log" 2>&1 &
	local deadline=$((SECONDS + 30))
	until [ -s "$out" ]; do
		((SECONDS < deadline)) || die "simulated instances $* did not start: $(cat "$case_dir/simlima.log")"
		sleep 0.05
	done
}

# ha_pid and drv_pid print the PIDs of a started simulated instance.
ha_pid() { awk -v n="$1" '$1 == n { print $2 }' "$case_dir"/pids.*; }
drv_pid() { awk -v n="$1" '$1 == n { print $3 }' "$case_dir"/pids.*; }

# crash kills an instance's processes, driver first, as a crash would: its
# pid files and socket stay behind.
crash() {
	local pid
	for pid in "$(drv_pid "$1")" "$(ha_pid "$1")"; do
		kill -KILL "$pid"
		local deadline=$((SECONDS + 10))
		while alive "$pid"; do
			((SECONDS < deadline)) || die "pid $pid survived SIGKILL"
			sleep 0.01
		done
	done
}

# write_pid_files writes PIDs into an instance's ha.pid and qemu.pid, as
# the user, as a recycled PID or a corrupted file would leave them.
write_pid_files() {
	as_user sh -c 'printf %s "$2" >"$1/ha.pid" && printf %s "$3" >"$1/qemu.pid"' - "$home/$1" "$2" "$3"
}

# bystander_state prints what became of the bystander instance.
bystander_state() {
	local ha drv
	ha=$(ha_pid bystander)
	drv=$(drv_pid bystander)
	if alive "$ha" && alive "$drv"; then
		echo alive
	elif ! alive "$ha" && ! alive "$drv"; then
		echo killed
	else
		echo "half killed"
	fi
}

# run_case runs one case with one limactl, in the current PID namespace,
# and appends its row to $work/rows.
run_case() {
	local case=$1 variant=$2
	local limactl="$bin/limactl-$variant"
	case_dir="$work/cases/$case.$variant"
	home="$case_dir/home"
	mkdir -p "$home"
	chown -R "$run_user:$run_group" "$case_dir"
	as=(setpriv --reuid="$run_user" --regid="$run_group" --clear-groups
		env -i PATH="$PATH" HOME="$home" LIMA_HOME="$home")

	local bystander=yes args
	case $case in
	list)
		start_sims sim
		bystander=
		args=(list)
		;;
	stop)
		start_sims sim bystander
		args=(stop sim)
		;;
	stop-f)
		start_sims sim bystander
		args=(stop -f sim)
		;;
	recycled-old | recycled-new)
		# The crashed instance's pid files name the bystander's processes,
		# as after a crash, a reboot and PID reuse.
		start_sims crashed
		crash crashed
		start_sims bystander
		write_pid_files crashed "$(ha_pid bystander)" "$(drv_pid bystander)"
		if [ "$case" = recycled-old ]; then
			touch -d '-1 hour' "$home/crashed/ha.pid" "$home/crashed/qemu.pid"
		fi
		args=(stop -f crashed)
		;;
	touched-stop | touched-stop-f)
		# A live instance whose pid files were touched into the past, as a
		# restored backup or a clock step leaves them.
		start_sims sim bystander
		touch -d '-1 hour' "$home/sim/ha.pid" "$home/sim/qemu.pid"
		args=(stop sim)
		[ "$case" = touched-stop ] || args=(stop -f sim)
		;;
	pid-4294967295)
		# ReadPIDFile of v1.2.2 reads 4294967295 as a live PID (signal 0
		# to it is kill(-1, 0)), and SIGKILL to it is kill(-1, SIGKILL):
		# every process of the user but limactl itself, in this namespace.
		start_sims sim bystander
		as_user sh -c 'printf 4294967295 >"$1"' - "$home/sim/ha.pid"
		args=(stop -f sim)
		;;
	*) die "unknown case $case" ;;
	esac

	local start rc=0 wall
	start=$EPOCHREALTIME
	# timeout runs as root, out of reach of the kill(-1, SIGKILL) of the
	# pid-4294967295 case: limactl is its child.
	timeout "$bound" "${as[@]}" "$limactl" "${args[@]}" >"$case_dir/limactl.log" 2>&1 || rc=$?
	wall=$(ms_since "$start")

	local list by=-
	list=$(as_user "$limactl" list --format '{{.Name}}:{{.Status}}' 2>/dev/null | sort | paste -sd ' ') ||
		list="(list failed)"
	[ -z "$bystander" ] || by=$(bystander_state)

	local says
	says=$(complaint "$case_dir/limactl.log")

	local verdict
	verdict=$(judge "$case" "$variant" "$rc" "$list" "$by")
	printf '| %s | `limactl %s` | %s | %s | %s | %s | %s | %s | %s |\n' \
		"$case" "${args[*]}" "$variant" "$rc" "$wall" "$list" "$by" "$verdict" "$says" >>"$work/rows"
	cp "$case_dir/limactl.log" "$work/logs/$case.$variant.log"
}

# complaint prints the last error limactl logged, or else its first
# warning, as "level: message: action: error" (logrus's text format, the
# action and error fields only where present), shortened for a table cell.
complaint() {
	local line
	line=$(grep -E ' level=(error|fatal) ' "$1" | tail -n 1) || true
	[ -n "$line" ] || line=$(grep -E ' level=warning ' "$1" | head -n 1) || true
	if [ -z "$line" ]; then
		echo -
		return
	fi
	line=${line//"$case_dir/home"/'$LIMA_HOME'}
	line=${line//"$bin/"/}
	local out key value
	for key in level msg action error; do
		value=$(log_field "$key" <<<"$line")
		[ -z "$value" ] || out+="${out:+: }$value"
	done
	((${#out} <= 200)) || out="${out:0:197}..."
	echo "${out//|/\\|}"
}

# log_field prints the value of a field of a logrus text line on stdin.
log_field() {
	sed -nE -e "s/^(.* )?$1="'("(([^"\\]|\\.)*)"|([^ "]+)).*$/\3\5/p' | sed -e 's/\\"/"/g'
}

# judge prints "ok" when a proposed binary did what the proposal promises,
# "UNEXPECTED" when not, and "-" for v1.2.2, which is only reported.
judge() {
	local case=$1 variant=$2 rc=$3 list=$4 by=$5
	[ "$variant" != v1.2.2 ] || {
		echo -
		return
	}
	local want_rc=0 want_list
	case $case in
	list) want_list="sim:Running" ;;
	recycled-old) want_list="bystander:Running crashed:Stopped" ;;
	recycled-new)
		# The bystander started before the crashed instance's pid files
		# were written: nothing proves it a stranger, so nothing is
		# signalled or removed and the stop fails.
		want_list="bystander:Running crashed:Broken"
		[ "$variant" != proposed+caller ] || want_rc=1
		;;
	*) want_list="bystander:Running sim:Stopped" ;;
	esac
	if [ "$rc" = "$want_rc" ] && [ "$list" = "$want_list" ] && [[ $by == alive || $by == - ]]; then
		echo ok
	else
		echo UNEXPECTED
	fi
}

# in_namespace is what the script runs as the init of a case's PID
# namespace.
in_namespace() {
	work=$1 bin=$2 run_group=$3
	shift 3
	run_case "$@"
}

if [ "${1-}" = __case ]; then
	shift
	in_namespace "$@"
	exit
fi

[ "$(uname -s)" = Linux ] || die "Linux only"
[ -n "${EPOCHREALTIME-}" ] || die "bash 5 or later needed"
[ "$(id -u)" = 0 ] || die "run as root: each case runs in a PID namespace of its own"
for cmd in go setpriv unshare timeout awk; do
	command -v "$cmd" >/dev/null || die "$cmd not found"
done
run_group=$(id -gn "$run_user") || die "no user $run_user"

work=$(mktemp -d "${TMPDIR:-/tmp}/limastop-upstream.XXXXXX")
cleanup() {
	if [ -n "${LIMASTOP_KEEP-}" ]; then
		printf 'run.sh: kept %s\n' "$work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
chmod 755 "$work"
bin=$work/bin
mkdir -p "$bin" "$work/cases" "$work/logs"
# The copies of Lima are modules of their own, whatever go.work is around.
export GOWORK=off

say "fetching $lima_module@$lima_version"
src=$(cd "$work" && go mod download -json "$lima_module@$lima_version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || die "go mod download gave no directory for $lima_module@$lima_version"
cp -R "$src" "$work/v1.2.2"
chmod -R u+w "$work/v1.2.2"
cp -R "$work/v1.2.2" "$work/proposed"

say "dropping stop.go into the copy and requiring this repository's modules"
# Without its first two lines, the build constraint and a blank line.
sed -e '1{/^\/\/go:build limaupstream$/!q1' -e 'N;d;}' "$here/stop.go" >"$work/proposed/pkg/instance/stop.go" ||
	die "stop.go does not start with its build constraint"
pseudo=v0.0.0-00010101000000-000000000000
(
	cd "$work/proposed"
	# The root module needs go 1.25, as does Lima master.
	go mod edit -go=1.25.0 \
		-require="github.com/limastop/stop@$pseudo" -replace="github.com/limastop/stop=$repo" \
		-require="github.com/limastop/stop/lima@$pseudo" -replace="github.com/limastop/stop/lima=$repo/lima"
	go mod tidy
)

build_all() { # build_all DIR VARIANT
	say "building limactl $2"
	(
		cd "$1"
		CGO_ENABLED=0 go build -o "$bin/limactl-$2" ./cmd/limactl
		echo "| $2 | linux | built |" >>"$work/builds"
		GOOS=windows CGO_ENABLED=0 go build -o /dev/null ./cmd/limactl
		echo "| $2 | windows | built |" >>"$work/builds"
		# Lima's vz driver (github.com/Code-Hex/vz) needs cgo and macOS's
		# SDK, for v1.2.2 as released too: only report it.
		local out
		if out=$(GOOS=darwin CGO_ENABLED=0 go build -o /dev/null ./cmd/limactl 2>&1); then
			echo "| $2 | darwin | built |" >>"$work/builds"
		elif grep -q 'Code-Hex/vz' <<<"$out"; then
			echo "| $2 | darwin | not without cgo (github.com/Code-Hex/vz needs it) |" >>"$work/builds"
		else
			printf '%s\n' "$out" >&2
			die "limactl $2 fails to build for darwin for another reason than cgo"
		fi
	)
}
build_all "$work/v1.2.2" v1.2.2
build_all "$work/proposed" proposed
sed -i 's/^\(\t*\)instance\.StopForcibly(inst)$/\1err = instance.StopForciblyContext(ctx, inst)/' \
	"$work/proposed/cmd/limactl/stop.go"
[ "$(grep -c 'err = instance.StopForciblyContext(ctx, inst)' "$work/proposed/cmd/limactl/stop.go")" = 1 ] ||
	die "cmd/limactl/stop.go does not call StopForcibly where expected"
build_all "$work/proposed" proposed+caller

say "building the simulated instances"
(cd "$repo/lima" && CGO_ENABLED=0 go build -o "$bin/simlima" ./upstream/simlima)
chmod -R a+rX "$bin"

for case in list stop stop-f recycled-old recycled-new touched-stop touched-stop-f pid-4294967295; do
	variants=(v1.2.2 proposed)
	case $case in
	*-f | recycled-* | pid-*) variants+=(proposed+caller) ;;
	esac
	for variant in "${variants[@]}"; do
		say "case $case, limactl $variant"
		timeout $((bound * 2)) unshare --pid --fork --mount-proc --kill-child \
			bash "${BASH_SOURCE[0]}" __case "$work" "$bin" "$run_group" "$case" "$variant" ||
			die "case $case with limactl $variant did not run to its end"
		tail -n 1 "$work/rows" >&2
	done
done

cat <<EOF

Builds of limactl ($lima_module@$lima_version):

| limactl | GOOS | result |
| --- | --- | --- |
$(cat "$work/builds")

Cases (wall time in ms; "list afterwards" is \`limactl list\` once the command has returned):

| case | command | limactl | exit | wall | list afterwards | bystander | check | last error or warning |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
$(cat "$work/rows")
EOF
if grep -q UNEXPECTED "$work/rows"; then
	for log in "$work"/logs/*; do
		printf '\n==> %s\n' "${log##*/}" >&2
		cat "$log" >&2
	done
	die "a proposed limactl did not do what the proposal promises"
fi
