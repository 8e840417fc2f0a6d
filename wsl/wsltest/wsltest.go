// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// Package wsltest provides a scripted wsl.Executor for tests that must not
// depend on a real wsl.exe.
package wsltest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/limastop/stop/wsl"
)

// Response is one scripted answer of a Fake.
type Response struct {
	// Stdout is the decoded output Run returns.
	Stdout string
	// Raw, if not nil, replaces Stdout by wsl.Decode(Raw): the bytes as
	// wsl.exe writes them, for example UTF16(...) or a captured file.
	Raw []byte
	// ExitCode, if not zero, makes Run fail with a *wsl.Error holding
	// it and the output, as when wsl.exe exits with it.
	ExitCode int
	// Err, if not nil, makes Run fail with a *wsl.Error wrapping it with
	// ExitCode -1, as when wsl.exe cannot be started.
	Err error
	// Delay is how long Run takes to answer; the context cuts it short.
	Delay time.Duration
	// Hang makes Run block until the context ends, like a wedged wsl.exe.
	Hang bool
}

// Fake is a scripted wsl.Executor that records its calls. It is safe for
// concurrent use. A call without a scripted response fails, with
// ExitCode -1.
type Fake struct {
	mu     sync.Mutex
	script map[string][]Response
	calls  [][]string
}

var _ wsl.Executor = (*Fake)(nil)

// On scripts the responses to calls whose arguments, joined by blanks, are
// args, such as "--terminate lima-default". Successive calls get successive
// responses and the last one repeats. On returns f for chaining.
func (f *Fake) On(args string, responses ...Response) *Fake {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.script == nil {
		f.script = make(map[string][]Response)
	}
	f.script[args] = append(f.script[args], responses...)
	return f
}

// Run answers with the next response scripted for args.
func (f *Fake) Run(ctx context.Context, args ...string) (string, error) {
	r, ok := f.next(args)
	fail := func(code int, out string, err error) (string, error) {
		return "", &wsl.Error{Args: args, ExitCode: code, Output: out, Err: err}
	}
	if !ok {
		return fail(-1, "", errors.New("wsltest: no response scripted"))
	}
	var done <-chan time.Time // nil for Hang: never
	if !r.Hang {
		t := time.NewTimer(r.Delay)
		defer t.Stop()
		done = t.C
	}
	if ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-done:
		}
	}
	if err := ctx.Err(); err != nil {
		return fail(-1, "", fmt.Errorf("cut short by its context: %w", err))
	}

	out := r.Stdout
	if r.Raw != nil {
		out = wsl.Decode(r.Raw)
	}
	switch {
	case r.Err != nil:
		return fail(-1, out, r.Err)
	case r.ExitCode != 0:
		return fail(r.ExitCode, out, fmt.Errorf("exit status %d", r.ExitCode))
	}
	return out, nil
}

// Calls returns the arguments of every call so far, in order.
func (f *Fake) Calls() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls := make([][]string, len(f.calls))
	for i, c := range f.calls {
		calls[i] = slices.Clone(c)
	}
	return calls
}

// next records a call and pops its response.
func (f *Fake) next(args []string) (Response, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, slices.Clone(args))
	key := strings.Join(args, " ")
	rs := f.script[key]
	if len(rs) == 0 {
		return Response{}, false
	}
	if len(rs) > 1 {
		f.script[key] = rs[1:]
	}
	return rs[0], true
}

// ListOutput formats distros the way wsl.exe --list --verbose does, before
// encoding: a header, then one line per distro, the default marked with
// "*", columns padded, lines ending in CRLF.
func ListOutput(distros ...wsl.Distro) string {
	width := len("NAME")
	for _, d := range distros {
		width = max(width, len(d.Name))
	}
	var b strings.Builder
	line := func(mark, name, state, version string) {
		fmt.Fprintf(&b, "%s %-*s%-16s%s\r\n", mark, width+4, name, state, version)
	}
	line(" ", "NAME", "STATE", "VERSION")
	for _, d := range distros {
		mark := " "
		if d.Default {
			mark = "*"
		}
		line(mark, d.Name, string(d.State), fmt.Sprint(d.Version))
	}
	return b.String()
}

// UTF16 encodes s as UTF-16LE without a byte order mark, as wsl.exe writes
// its output unless WSL_UTF8=1 is set.
func UTF16(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}
