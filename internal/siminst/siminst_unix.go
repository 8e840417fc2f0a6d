//go:build !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst

import (
	"os"
	"syscall"
)

// socketRequired: the host agent fails to start without its API socket.
const socketRequired = true

// backgroundSysProcAttr starts a process in its own process group, as Lima
// starts the host agent and QEMU, so that a terminal's Ctrl-C does not
// reach it and it outlives its parent.
func backgroundSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// killed reports whether a signal ended the process.
func killed(state *os.ProcessState) bool {
	ws, ok := state.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}

// lockAppend does nothing: on Unix a write to a file opened with O_APPEND
// is appended whole, whoever else appends at the same time.
func lockAppend(*os.File) (unlock func() error, err error) {
	return func() error { return nil }, nil
}
