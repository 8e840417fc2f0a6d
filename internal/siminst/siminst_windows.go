// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst

import (
	"math"
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// socketRequired: Windows 10 and later have AF_UNIX sockets, but not every
// environment does (Wine, for one), so the host agent runs on without its
// API socket and logs why.
const socketRequired = false

// backgroundSysProcAttr starts a process in its own process group, as Lima
// starts the host agent and QEMU on Windows.
func backgroundSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// killed reports whether the process ended with exit code 1, the code of
// TerminateProcess in os.Process.Kill and in the process package. The
// simulated processes never exit with 1 themselves.
func killed(state *os.ProcessState) bool {
	return state.ExitCode() == 1
}

// lockAppend locks all of f, held open for appending, until unlock: Wine
// appends by seeking to the end and writing, so two processes appending at
// once can overwrite each other's line (seen: 5 lines lost in 1500), where
// Windows itself appends whole. A process that dies holding the lock loses
// it with its handles.
func lockAppend(f *os.File) (unlock func() error, err error) {
	h := windows.Handle(f.Fd())
	ol := new(windows.Overlapped)
	if err := windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK, 0, math.MaxUint32, math.MaxUint32, ol); err != nil {
		return nil, err
	}
	return func() error { return windows.UnlockFileEx(h, 0, math.MaxUint32, math.MaxUint32, ol) }, nil
}
