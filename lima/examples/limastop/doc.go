// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// Command limastop stops instances of a real Lima installation safely, the
// way "limactl stop" does, several at once.
//
// Usage:
//
//	limastop [-f] [-policy graceful|forcible|orphan] [-timeout D] [-v] [NAME...]
//
// NAME defaults to "default", as with limactl. Instances are looked up
// where Lima looks: in $LIMA_HOME, or ~/.lima when LIMA_HOME is not set,
// through Lima's own store, so an instance that Lima cannot read (a bad
// lima.yaml, a file it may not read) is reported with Lima's own errors.
// Flags may come before or after the names.
//
// The flags:
//
//	-f          force: kill the instance's processes, confirm their
//	            deaths, then clean up (the same as -policy forcible)
//	-policy P   graceful (the default): interrupt the host agent and wait
//	            for it and the driver to exit, as limactl stop does;
//	            forcible: as -f;
//	            orphan: graceful, then forcible if the graceful stop has
//	            not finished within 15s
//	-timeout D  bound of the whole stop, such as 30s or 5m (default: the
//	            policy's own, 3m for graceful and 30s for forcible)
//	-v          print every step as it ends, with how long it took
//	-h          print this usage and the exit codes
//
// Several instances are stopped in parallel. While it waits, limastop shows
// on a terminal one line that says what it waits for and for how long; when
// standard error is not a terminal, it prints a line per step as it starts.
// The outcome of each instance goes to standard output ("NAME: stopped
// gracefully", "NAME: already stopped", "NAME: stopped forcibly", "NAME: not
// stopped"); errors go to standard error, each followed by the next step to
// take, such as "use -f to force".
//
// Ctrl-C and SIGTERM interrupt the stops: limastop sends no further signal
// and touches no further file, says what state each instance was left in,
// and exits with 130. A second Ctrl-C ends limastop at once. A WSL2 distro
// whose stop failed is terminated as a last resort only when forcing was
// asked for (-f, or -policy orphan) and limastop was not interrupted.
//
// Exit codes:
//
//	0    every instance is stopped, or already was
//	1    a stop failed, or an instance was not found or could not be read
//	2    bad usage: an unknown flag or policy, an invalid instance name
//	130  interrupted by Ctrl-C or SIGTERM
package main
