// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stopsignal_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"

	"github.com/limastop/stop/process"
	"github.com/limastop/stop/stopsignal"
)

// TestEvent sets the stop event as a stopper does and checks that every
// setting arrives, that the event is reset after each, and that after stop
// nothing arrives and the event is gone.
func TestEvent(t *testing.T) {
	name := uniqueName(t)
	c := make(chan os.Signal, 1)
	stop, err := stopsignal.Notify(c, stopsignal.EventName(name))
	require.NoError(t, err)
	defer stop()
	ev := openEvent(t, name)

	for range 3 {
		require.NoError(t, windows.SetEvent(ev))
		requireSignal(t, c)
		r, err := windows.WaitForSingleObject(ev, 0)
		require.NoError(t, err)
		assert.Equal(t, uint32(windows.WAIT_TIMEOUT), r, "the event is still set")
	}

	stop()
	require.NoError(t, windows.SetEvent(ev))
	select {
	case sig := <-c:
		t.Fatalf("%v arrived after stop", sig)
	case <-time.After(100 * time.Millisecond):
	}
	require.NoError(t, windows.CloseHandle(ev))
	_, err = windows.OpenEvent(windows.EVENT_MODIFY_STATE, false, utf16(t, name))
	assert.ErrorIs(t, err, windows.ERROR_FILE_NOT_FOUND, "the event outlived stop")
}

// TestEventNotifyContext checks that setting the event cancels the context
// of NotifyContext, with a cause that says why.
func TestEventNotifyContext(t *testing.T) {
	name := uniqueName(t)
	ctx, stop, err := stopsignal.NotifyContext(t.Context(), stopsignal.EventName(name))
	require.NoError(t, err)
	defer stop()
	ev := openEvent(t, name)
	defer windows.CloseHandle(ev)
	require.NoError(t, windows.SetEvent(ev))
	select {
	case <-ctx.Done():
	case <-time.After(waitTimeout):
		t.Fatal("the context was not canceled")
	}
	assert.ErrorIs(t, ctx.Err(), context.Canceled)
	assert.EqualError(t, context.Cause(ctx), "interrupt signal received")
}

// TestNoGoroutineLeft checks that stop ends the goroutine waiting on the
// event, for Notify and NotifyContext alike.
func TestNoGoroutineLeft(t *testing.T) {
	// os/signal starts its own goroutine on first use, for good.
	warm, err := stopsignal.Notify(make(chan os.Signal, 1), stopsignal.EventName(uniqueName(t)))
	require.NoError(t, err)
	warm()
	before := runtime.NumGoroutine()
	for i := range 20 {
		name := uniqueName(t) + "-" + strconv.Itoa(i)
		stop, err := stopsignal.Notify(make(chan os.Signal, 1), stopsignal.EventName(name))
		require.NoError(t, err)
		_, cancel, err := stopsignal.NotifyContext(t.Context(), stopsignal.EventName(name+"-ctx"))
		require.NoError(t, err)
		assert.Greater(t, runtime.NumGoroutine(), before)
		stop()
		cancel()
	}
	// stop waits for the goroutines it ends, so none should be left at
	// all; the bound only absorbs goroutines of the runtime or of testing.
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before)
}

// TestEventExists checks that an event created before Notify is shared
// rather than refused: setting it reaches the host agent.
func TestEventExists(t *testing.T) {
	name := uniqueName(t)
	ev, err := windows.CreateEvent(nil, 1, 0, utf16(t, name))
	require.NoError(t, err)
	defer windows.CloseHandle(ev)
	c := make(chan os.Signal, 1)
	stop, err := stopsignal.Notify(c, stopsignal.EventName(name))
	require.NoError(t, err)
	defer stop()
	require.NoError(t, windows.SetEvent(ev))
	requireSignal(t, c)
}

// TestEventNameTaken checks that a name that another kind of object holds
// makes Notify fail rather than relay nothing.
func TestEventNameTaken(t *testing.T) {
	name := uniqueName(t)
	m, err := windows.CreateMutex(nil, false, utf16(t, name))
	require.NoError(t, err)
	defer windows.CloseHandle(m)
	stop, err := stopsignal.Notify(make(chan os.Signal, 1), stopsignal.EventName(name))
	require.Error(t, err)
	assert.Nil(t, stop)
	assert.Contains(t, err.Error(), name)
	t.Log(err)
}

// TestMismatchedName stops a host agent whose event has a custom name with
// a table that does not know the name: nothing can be delivered, nothing is
// signalled, and the error names the event that was looked for. A table
// that knows the name then stops it.
func TestMismatchedName(t *testing.T) {
	ha := startHostAgent(t, "notify", testPrefix, false)
	pid := ha.cmd.Process.Pid
	for _, table := range []process.SystemTable{{}, {ConsoleBreak: true}} {
		p, err := table.Find(pid)
		require.NoError(t, err)
		err = p.Interrupt()
		require.ErrorIs(t, err, process.ErrInterruptUnavailable)
		assert.Contains(t, err.Error(), process.InterruptEventName(pid))
		t.Log(err)
		require.NoError(t, p.Release())
	}
	select {
	case <-ha.exited:
		t.Fatal("the host agent exited")
	case <-time.After(100 * time.Millisecond):
	}

	p, err := process.SystemTable{EventName: func(pid int) string { return testPrefix + strconv.Itoa(pid) }}.Find(pid)
	require.NoError(t, err)
	defer p.Release()
	require.NoError(t, p.Interrupt())
	assert.Equal(t, "stopped interrupt", ha.line(t))
	assert.Equal(t, exitStopped, ha.exitCode(t))
}

// openEvent opens the event name with the rights to set it, as a stopper
// does, and to wait on it, to see whether it is set.
func openEvent(t *testing.T, name string) windows.Handle {
	t.Helper()
	ev, err := windows.OpenEvent(windows.EVENT_MODIFY_STATE|windows.SYNCHRONIZE, false, utf16(t, name))
	require.NoError(t, err)
	return ev
}

func utf16(t *testing.T, s string) *uint16 {
	t.Helper()
	p, err := windows.UTF16PtrFromString(s)
	require.NoError(t, err)
	return p
}

// requireSignal waits, bounded, for os.Interrupt on c.
func requireSignal(t *testing.T, c <-chan os.Signal) {
	t.Helper()
	select {
	case sig := <-c:
		require.Equal(t, os.Interrupt, sig)
	case <-time.After(waitTimeout):
		t.Fatal("no signal arrived")
	}
}
