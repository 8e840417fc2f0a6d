//go:build !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package wsl

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// run runs wsl.exe in its own process group and makes cancellation kill the
// whole group, so that nothing it started keeps running or keeps its output
// pipes open.
func run(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// Once Wait has reaped wsl.exe its group ID may be reused: Signal
		// knows whether Wait has, and then reports os.ErrProcessDone.
		if err := cmd.Process.Signal(syscall.Signal(0)); errors.Is(err, os.ErrProcessDone) {
			return err
		}
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
			if errors.Is(err, syscall.ESRCH) {
				return os.ErrProcessDone
			}
			return fmt.Errorf("failed to kill process group %d: %w", cmd.Process.Pid, err)
		}
		return nil
	}
	return cmd.Run()
}

// lookPathError reports a missing wsl.exe: outside WSL there is none.
func lookPathError(err error) error {
	return fmt.Errorf("wsl.exe is not available on this host: %w: %w", errors.ErrUnsupported, err)
}
