// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst

import (
	"os"
	"syscall"
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
