// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stopsignal

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// notifyEvent creates the manual-reset event name and relays each time it
// is set to c as os.Interrupt, until the returned function is called. That
// function waits for the relaying goroutine to end before it closes the
// handles, so nothing is sent to c afterwards and no wait is left on a
// closed handle.
func notifyEvent(c chan<- os.Signal, name string) (stop func(), err error) {
	name16, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, fmt.Errorf("stopsignal: stop event name %q: %w", name, err)
	}
	// Manual-reset, so that a set request stays set until the relay has
	// seen it, however late the goroutine gets to run.
	ev, err := windows.CreateEvent(nil, 1, 0, name16)
	// ERROR_ALREADY_EXISTS comes with a handle to the existing event, which
	// is shared, as named kernel objects are.
	if err != nil && (ev == 0 || !errors.Is(err, windows.ERROR_ALREADY_EXISTS)) {
		return nil, fmt.Errorf("stopsignal: failed to create the stop event %s: %w", name, err)
	}
	// A private, unnamed event that stop sets to end the wait: closing a
	// handle that another thread waits on is undefined behaviour.
	quit, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		windows.CloseHandle(ev)
		return nil, fmt.Errorf("stopsignal: failed to create an event: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			r, err := windows.WaitForMultipleObjects([]windows.Handle{ev, quit}, false, windows.INFINITE)
			// Failing on two handles this function owns would take a
			// broken process; there is no one to tell but stop.
			if err != nil || r != windows.WAIT_OBJECT_0 {
				return
			}
			// Reset before relaying, so that a request made after the
			// host agent has seen this one wakes it again.
			_ = windows.ResetEvent(ev)
			select {
			case c <- os.Interrupt:
			default:
				// As os/signal does: a full channel already holds a
				// request.
			}
		}
	}()
	return func() {
		_ = windows.SetEvent(quit)
		<-done
		_ = windows.CloseHandle(quit)
		_ = windows.CloseHandle(ev)
	}, nil
}
