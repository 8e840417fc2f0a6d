// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package wsl

import (
	"os/exec"
	"syscall"

	"golang.org/x/sys/windows"
)

// configure keeps wsl.exe from opening a console window when the caller
// has none, such as a service or a GUI program. Cancellation is
// exec.CommandContext's default, TerminateProcess on wsl.exe; processes it
// started may outlive it, and WaitDelay stops Run from waiting for them.
func configure(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		HideWindow:    true,
		CreationFlags: windows.CREATE_NO_WINDOW,
	}
}

// lookPathError reports a missing wsl.exe: WSL is not installed.
func lookPathError(err error) error { return err }
