// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"

	"golang.org/x/sys/windows"

	"github.com/limastop/stop/process"
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

// notifyStopEvent opts the current process into console-less interrupts: it
// creates the manual-reset event named process.InterruptEventName and sends
// os.Interrupt to ch each time the event is set.
func notifyStopEvent(ch chan<- os.Signal, log *slog.Logger) error {
	name, err := windows.UTF16PtrFromString(process.InterruptEventName(os.Getpid()))
	if err != nil {
		return err
	}
	ev, err := windows.CreateEvent(nil, 1, 0, name)
	if err != nil {
		if ev == 0 || !errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
			return fmt.Errorf("failed to create event %q: %w", process.InterruptEventName(os.Getpid()), err)
		}
		log.Warn("the stop event already exists", "event", process.InterruptEventName(os.Getpid()))
	}
	go func() {
		for {
			if _, err := windows.WaitForSingleObject(ev, windows.INFINITE); err != nil {
				log.Error("failed to wait for the stop event", "error", err)
				return
			}
			// Reset at once, or an ignored interrupt would fire again
			// and again.
			_ = windows.ResetEvent(ev)
			ch <- os.Interrupt
		}
	}()
	return nil
}
