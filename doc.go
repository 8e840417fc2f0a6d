// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// Package stop stops Lima instances safely on Linux, macOS and Windows
// (WSL2).
//
// Three policies implement Stopper:
//
//   - Graceful interrupts the host agent and waits for it and the driver to
//     exit.
//   - Forcible kills the driver and the host agent, confirms their deaths,
//     and only then terminates the WSL2 distro, unlocks disks and removes
//     stale files.
//   - Orphan tries Graceful with a short timeout and falls back to Forcible,
//     for a host agent that no one is watching.
//
// A PID read from a pid file is a claim, not a fact. Before anything is
// signalled the PID is validated (ErrUnsafePID), the process is pinned (a
// pidfd on Linux, a handle on Windows) and its start time is checked against
// the pid file's modification time, or against a start time the caller
// recorded at launch (ErrNotOurProcess). Waiting for exit is event-driven.
//
// What happens on each OS:
//
//	step              Linux / macOS                     Windows (incl. WSL2)
//	----              -------------                     --------------------
//	graceful request  SIGINT to the host agent,         the host agent's stop event
//	                  through its pidfd on Linux        (process.InterruptEventName); else,
//	                                                    if the caller opts in with
//	                                                    process.SystemTable{ConsoleBreak: true},
//	                                                    CTRL_BREAK to its own process group
//	                                                    when it shares the caller's console;
//	                                                    never group 0
//	forced kill       SIGKILL to the driver, then the   TerminateProcess on each process's
//	                  host agent                        handle; never a console event
//	confirm           pidfd poll (Linux), kqueue        WaitForSingleObject, bounded
//	                  NOTE_EXIT (macOS), bounded
//	WSL2 distro       -                                 wsl.exe --terminate lima-<name>,
//	                                                    bounded, once every death is
//	                                                    confirmed; a hung wsl.exe is killed
//	                                                    with everything it started
//	disks             unlocked only after every death (and the distro's end) is confirmed
//	stale files       *.pid, *.sock, *.tmp removed by listing the directory,
//	                  only after every death (and the distro's end) is confirmed
//
// The OS facilities are fields: Processes (a process.Table) and WSL (a
// wsl.Executor). Nil means the real one; the processtest and wsltest
// packages provide fakes for unit tests.
package stop
