// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"os"
	"strconv"

	"github.com/limastop/stop/stopsignal"
)

// stopEventVar makes a waiter opt into the console-less stop event: "1"
// by the default name, anything else by that prefix followed by its PID.
const stopEventVar = "PROCESS_TEST_STOP_EVENT"

// stopEventEnv makes a waiter opt into the stop event by its default name.
const stopEventEnv = stopEventVar + "=1"

// watchStopEvent opts the waiter into the stop event, as a host agent does,
// if the test asked for it, and closes fired when the event is set.
func watchStopEvent(fired chan<- struct{}) {
	v := os.Getenv(stopEventVar)
	if v == "" {
		return
	}
	var opts []stopsignal.Option
	if v != "1" {
		opts = append(opts, stopsignal.EventName(v+strconv.Itoa(os.Getpid())))
	}
	c := make(chan os.Signal, 1)
	// Never stopped: the waiter exits once it fires.
	if _, err := stopsignal.Notify(c, opts...); err != nil {
		panic(err)
	}
	go func() {
		<-c
		close(fired)
	}()
}
