// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"os"

	"golang.org/x/sys/windows"

	"github.com/limastop/stop/process"
)

// stopEventEnv makes a waiter opt into the console-less stop event.
const stopEventEnv = "PROCESS_TEST_STOP_EVENT=1"

// watchStopEvent creates the waiter's stop event, if it opted in, and closes
// fired when the event is set.
func watchStopEvent(fired chan<- struct{}) {
	if os.Getenv("PROCESS_TEST_STOP_EVENT") != "1" {
		return
	}
	name, err := windows.UTF16PtrFromString(process.InterruptEventName(os.Getpid()))
	if err != nil {
		panic(err)
	}
	ev, err := windows.CreateEvent(nil, 1, 0, name)
	if err != nil {
		panic(err)
	}
	go func() {
		if _, err := windows.WaitForSingleObject(ev, windows.INFINITE); err == nil {
			close(fired)
		}
	}()
}
