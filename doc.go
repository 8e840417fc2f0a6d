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
// # Acting only on facts
//
// A PID read from a pid file is a claim, and so is the file's modification
// time. Before anything is signalled the pid file is read safely (no
// symlink followed, no FIFO opened blocking, a regular file of a few bytes
// holding an ASCII decimal PID: ErrBadPIDFile otherwise), the PID is
// checked (never <= 1, beyond 32 bits, the caller or any of its ancestors:
// ErrUnsafePID) and the process is pinned (a pidfd on Linux, a handle on
// Windows; macOS re-checks the start time before each signal). Then every
// policy decides, per process, from facts about the pinned process:
//
//	evidence                                                 verdict
//	--------                                                 -------
//	for:     the start time the caller recorded              Ours, if there is no
//	         (Instance.HostAgentStart, DriverStart)          evidence against it:
//	         matches exactly; or its command line names a    it may be signalled
//	         pid file of the instance (an argument, or the
//	         value of --flag=path, compared as files, so a
//	         symlinked LIMA_HOME matches), or the instance
//	         directory as --inst-dir (Lima master's external
//	         drivers); or the Verify function says Ours
//	against: its command line names no pid file of the       NotOurs, if there is
//	         instance and it started after its pid file      no evidence for it: a
//	         was written (with no pid file, the command      stranger, never
//	         line alone); or the recorded start time         signalled, its pid
//	         differs; or Verify says NotOurs                 file stale
//	both, or neither (command line unreadable and the        IdentityUnknown:
//	start time does not rule it out, or a command line       nothing signalled,
//	naming nothing by a process older than its pid file)     removed or unlocked;
//	                                                         ErrIdentityUnknown
//
// An Ours process that started after its pid file was written (a copied or
// restored LIMA_HOME, a touched file, a clock step) is only logged as a
// warning. Lima's vz driver runs inside the host agent, so vz.pid names
// the host agent: one process, one target.
//
// When a pid file is unusable (ErrBadPIDFile, or ErrUnsafePID for a PID
// such as the caller's shell), or missing while the instance may still run
// (its ha.sock or its other process is there), the process table is
// searched for a process whose command line names that pid file; it is
// pinned and checked again. If none is found, the file is kept and the stop
// fails saying which file to remove once nothing runs; Forcible still
// kills and confirms every process it did identify. The search costs a
// scan of the process table, so a stopped instance without pid files and a
// WSL2 driver, which writes none, never pay it.
//
// What happens on each OS:
//
//	step              Linux / macOS                     Windows (incl. WSL2)
//	----              -------------                     --------------------
//	graceful request  SIGINT to the host agent,         the stop event the host agent created
//	                  through its pidfd on Linux        with stopsignal.Notify, by the name
//	                                                    process.SystemTable.EventName gives
//	                                                    (default process.InterruptEventName);
//	                                                    else, if the caller opts in with
//	                                                    process.SystemTable{ConsoleBreak: true},
//	                                                    CTRL_BREAK to its own process group
//	                                                    when it shares the caller's console;
//	                                                    never group 0
//	forced kill       SIGKILL to the driver, then the   TerminateProcess on each process's
//	                  host agent                        handle; never a console event
//	process tree      the descendants of each killed    the descendants (a snapshot's parent
//	                  process (the kernel's children    links, checked against creation
//	                  lists on Linux), pinned first;    times), pinned first
//	                  the host agent's process group,
//	                  only while it leads it and lives
//	memory            process_mrelease of each killed   -
//	                  process (Linux 5.15 and later)
//	confirm           pidfd poll (Linux), kqueue        WaitForSingleObject, bounded
//	                  NOTE_EXIT (macOS), bounded
//	WSL2 distro       -                                 wsl.exe --terminate lima-<name>,
//	                                                    bounded, once every death is
//	                                                    confirmed; a hung wsl.exe is killed
//	                                                    with everything it started
//	disks             unlocked only after every death (and the distro's end) is confirmed
//	                  and every pid file of the instance is proven stale
//	stale files       *.pid, *.sock, *.tmp removed by listing the directory, only once
//	                  every pid file is proven stale; ha.pid last
//	one stop at       flock on the instance directory   LockFileEx on limastop.lock in the
//	a time                                              instance directory
//
// # The Windows console path
//
// CTRL_BREAK is the one request that can reach more than its target:
// Windows delivers it to a process group, and for an ID that names no
// group on the caller's console, to every process on that console, the
// caller included. So Interrupt sends it only if the caller opted in
// (ConsoleBreak) and the target did not opt into the stop event, only if
// GetConsoleProcessList lists the target, pinned by its handle so that
// its PID cannot have been reused, on the caller's console, and only to
// the group whose ID is the target's PID, never 0. What no call can check
// is that this group is the target's own: Lima starts its host agent with
// CREATE_NEW_PROCESS_GROUP, and ConsoleBreak is for callers that know
// theirs are started so.
//
// The guards run for real in the process package's TestConsoleBreakGuards:
// a child of the test, with a console of its own or with none, interrupts
// waiters on its console, on none and on another console. That works
// under Wine, where the test process has no console and
// GenerateConsoleCtrlEvent itself refuses CTRL_BREAK once the guards let
// it through, and on the Windows runners of the CI workflow, where it is
// delivered.
//
// # Nothing lost
//
// A forced stop removes and unlocks only what is proven stale. Instance.Dir
// must hold a lima.yaml (ErrNotInstanceDir otherwise), so no other
// directory is ever cleaned. Once the deaths are confirmed, every *.pid file
// in the directory must name a process whose death this stop confirmed, a
// proven stranger, or no running process; one that names any other running
// process (a wrong VMType, an instance restarted meanwhile) keeps every
// file and disk lock, and the stop fails with ErrInstanceRunning. The pid
// files are checked again just before the files go, each pid file is
// re-read before it is removed, and ha.pid goes last: Lima's host agent
// does not start while ha.pid exists, so no restart can slip in while the
// other files are removed. The context is checked before every signal; a
// stop whose context has already ended touches nothing.
//
// Stops of one instance never overlap: each holds an OS lock on the
// instance directory that the OS drops when its holder exits or dies,
// whether the other stop runs in this process or another (a limactl built
// on this package, a daemon), and whatever path it reached the directory
// by. The later stop finds the instance stopped and reports AlreadyStopped.
// Lima itself does not take the lock, so a limactl that does not use this
// package can still stop or start the instance meanwhile; the re-checks
// above narrow what that can do, but cannot close the window between a
// pid file's last re-read and its removal.
//
// The OS facilities are fields: Processes (a process.Table) and WSL (a
// wsl.Executor). Nil means the real one; the processtest and wsltest
// packages provide fakes for unit tests.
package stop
