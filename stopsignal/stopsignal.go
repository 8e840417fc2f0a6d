// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// Package stopsignal is the host agent's half of a graceful stop: it turns
// every stop request that the stop policies of github.com/limastop/stop can
// send into os.Interrupt on a channel, in the style of os/signal.
//
// On Linux and macOS a stop request is a signal: the policies send SIGINT,
// and Notify also relays SIGTERM. On Windows a console control event
// reaches only processes on the sender's console, so a stopper without a
// console (a Windows service, a daemon) could not interrupt the host agent
// at all. There Notify also creates a named event that the stopper sets,
// process.InterruptEventName(os.Getpid()) unless EventName says otherwise,
// and sends os.Interrupt each time it is set. CTRL_C and CTRL_BREAK arrive
// as os.Interrupt, as os/signal delivers them, and CTRL_CLOSE, CTRL_LOGOFF
// and CTRL_SHUTDOWN as syscall.SIGTERM.
//
// A host agent calls Notify (or NotifyContext) at start-up, before it
// writes its pid file: a stopper that finds the pid file then also finds
// the event. The name is the contract between the two sides: a host agent
// that names its event otherwise (EventName) is stopped by a table that
// names it alike (process.SystemTable.EventName).
package stopsignal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/limastop/stop/process"
)

// Option configures Notify and NotifyContext.
type Option func(*config)

// config is what the options set.
type config struct {
	eventName string // the Windows stop event's name
}

// EventName names the Windows stop event instead of the default,
// process.InterruptEventName(os.Getpid()), for a host agent whose stoppers
// already know another name, such as the Rancher Desktop daemon's
// Local\rdd-<suffix>-interrupt-hostagent-<instance>-<pid>. The stopper
// must use the same name (process.SystemTable.EventName). The name should
// include the PID, so that a host agent restarted while its old process
// still exits cannot be stopped by a request meant for the old one; like
// the default, it belongs in the session's Local\ namespace, where a
// process needs no privilege to create it. An empty name, or one holding a
// NUL character, makes Notify fail on every OS; other OSes than Windows
// otherwise ignore the name.
func EventName(name string) Option {
	return func(c *config) { c.eventName = name }
}

// Notify relays stop requests to c, as signal.Notify does for signals:
// os.Interrupt and syscall.SIGTERM as they arrive, and on Windows
// os.Interrupt each time the stop event is set (see the package
// documentation). As with signal.Notify, c must be buffered: a request that
// finds it full is dropped, one being pending already.
//
// The stop event is manual-reset, so a request waits until it is seen
// however late, and it is reset as soon as it is seen, so a host agent that
// ignores one request is woken again by the next. If an event of that name exists already, Notify shares it:
// setting it wakes every process waiting on it.
//
// Creating the event can fail (a name taken by another kind of object, or
// in a namespace the caller may not use); then Notify returns the error
// and relays nothing. Otherwise stop ends the relaying: when it returns, c
// receives nothing more from Notify, the event is closed (once no stopper
// holds it, it is gone, and stoppers are told the process cannot be
// interrupted) and no goroutine is left behind. Calling stop more than once
// is harmless.
func Notify(c chan<- os.Signal, opts ...Option) (stop func(), err error) {
	if c == nil {
		panic("stopsignal: Notify using nil channel")
	}
	cfg := config{eventName: process.InterruptEventName(os.Getpid())}
	for _, o := range opts {
		o(&cfg)
	}
	// Checked on every OS, although only Windows uses the name: a wrong
	// name then shows on whatever OS the host agent is tested on.
	switch {
	case cfg.eventName == "":
		return nil, errors.New("stopsignal: empty stop event name")
	case strings.ContainsRune(cfg.eventName, 0):
		return nil, fmt.Errorf("stopsignal: stop event name %q holds a NUL character", cfg.eventName)
	}
	stopEvent, err := notifyEvent(c, cfg.eventName)
	if err != nil {
		return nil, err
	}
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	return sync.OnceFunc(func() {
		signal.Stop(c)
		stopEvent()
	}), nil
}

// NotifyContext returns a copy of parent that is canceled when a stop
// request arrives (see Notify), when the returned stop is called or when
// parent is done, whichever happens first. On a stop request
// context.Cause names it, as signal.NotifyContext's does since Go 1.26
// ("interrupt signal received"). Like Notify, and unlike
// signal.NotifyContext, it returns an error if the stop event cannot be
// created.
//
// Call stop as soon as the host agent no longer wants stop requests: it
// releases the event, and, as with signal.NotifyContext, a later Ctrl-C
// or SIGINT ends the process again by default.
func NotifyContext(parent context.Context, opts ...Option) (ctx context.Context, stop context.CancelFunc, err error) {
	// One pending request is enough: it cancels the context.
	c := make(chan os.Signal, 1)
	stopNotify, err := Notify(c, opts...)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancelCause(parent)
	relayed := make(chan struct{})
	go func() {
		defer close(relayed)
		select {
		case sig := <-c:
			cancel(signalError(sig.String() + " signal received"))
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		cancel(nil)
		<-relayed
		stopNotify()
	}, nil
}

// signalError is the cause of a context that NotifyContext canceled on a
// stop request.
type signalError string

func (e signalError) Error() string { return string(e) }
