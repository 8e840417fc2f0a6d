// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// Package process finds, identifies and stops processes by PID without ever
// reaching another process that reuses the PID, or the caller.
//
// A PID is a claim until the process holding it is pinned. Table.Find
// refuses what CheckPID refuses (PIDs <= 1, beyond 32 bits, the caller's own
// and its ancestors', with ErrUnsafePID) and returns a Process: the methods
// of a Process act on that exact process, and an exited one yields errors
// wrapping ErrNotFound, which a caller that wants it gone treats as
// success. System returns the operating system's table; the processtest
// package provides a scripted one for tests.
//
// A pid file is a claim too. ReadPIDFile reads one safely (no symlink
// followed, no FIFO opened blocking, a regular file of a few bytes) and
// ParsePID checks its text, both with ErrBadPIDFile for what cannot be a
// PID. VerifyPIDFile then checks that the pinned process could have written
// the file, and VerifyStartTime that it started when the caller recorded;
// otherwise the error wraps ErrNotOurProcess. The command line, which
// Process.CommandLine reads through the pin, is the positive evidence:
// Lima's processes name their pid files in it.
//
// Beyond Table and Process, some implementations offer more: Lister lists
// every process with its command line, to find one whose pid file is
// missing or garbage; Parent lists a process's children, and
// ChildVerifier confirms a pinned one without listing them again;
// GroupKiller kills the process group a process leads; MemoryReaper frees
// the memory of a killed process from the caller (Linux).
//
// What happens on each OS:
//
//	               Linux                 macOS                  Windows
//	               -----                 -----                  -------
//	pin            a pidfd               the start time,        a process handle,
//	                                     re-checked before      which keeps the PID
//	                                     every signal           from being reused
//	start time     /proc/PID/stat,       kinfo_proc,            the creation time,
//	               10 ms ticks           1 µs                   100 ns
//	command line   /proc/PID/cmdline     KERN_PROCARGS2         the process's memory
//	Interrupt      SIGINT by the pidfd   SIGINT                 the stop event that
//	                                                            stopsignal.Notify
//	                                                            created; CTRL_BREAK
//	                                                            only with ConsoleBreak
//	Kill           SIGKILL by the pidfd  SIGKILL                TerminateProcess
//	Wait           pidfd in the          kqueue NOTE_EXIT in    WaitForSingleObject
//	               netpoller             the netpoller
//	Children       the kernel's          the process list       a snapshot's parent
//	               children lists                               links, checked
//	                                                            against creation times
//	KillGroup      SIGKILL to the group  SIGKILL to the group   -
//	               it leads, while it    it leads, while it
//	               lives                 lives
//
// Elsewhere Find fails and CheckPID refuses every PID: without a way to pin
// a process and read its start time, no PID can be signalled safely.
package process
