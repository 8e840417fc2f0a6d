// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package wsl

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Executor runs wsl.exe. Run returns what wsl.exe printed on stdout,
// decoded to UTF-8, and an error if it could not run, failed or ran out of
// time. Exec is the real one; wsltest.Fake a scripted one for tests.
type Executor interface {
	Run(ctx context.Context, args ...string) (stdout string, err error)
}

// DefaultTimeout bounds one wsl.exe run when Exec.Timeout is zero and the
// context has no deadline. wsl.exe answers in well under a second unless
// the WSL service is wedged, and then it may never answer.
const DefaultTimeout = 30 * time.Second

// waitDelay is how long Run waits, after wsl.exe was killed or exited, for
// processes that inherited its output pipes to close them, before closing
// them itself and returning.
const waitDelay = 500 * time.Millisecond

// Exec is the real Executor: it runs wsl.exe as a child process. Its zero
// value runs wsl.exe found on PATH with DefaultTimeout.
//
// When the context ends or the timeout runs out, Run kills wsl.exe and what
// it started (its process group on Unix, its job object on Windows) and
// returns at most half a second later, even if a process that escaped
// inherited its pipes.
type Exec struct {
	// Path is the program to run; "" means wsl.exe looked up on PATH.
	Path string
	// Timeout bounds each run. Zero means DefaultTimeout, applied only
	// when the context has no deadline; a negative value disables it.
	// A positive Timeout applies in addition to the context's deadline.
	Timeout time.Duration
	// Env holds extra "KEY=value" entries added to the caller's
	// environment.
	Env []string
}

var _ Executor = Exec{}

// Error is the error Exec.Run returns when wsl.exe could not be run, failed
// or was killed. Its message follows Lima's style:
// failed to run [wsl.exe ARGS]: ERR (out="OUTPUT").
type Error struct {
	// Args are the arguments after the program name.
	Args []string
	// ExitCode is what wsl.exe exited with, as os.ProcessState reports
	// it: wsl.exe's -1 reads 4294967295 on 64-bit Windows. It is -1 when
	// wsl.exe did not exit by itself: it could not start or was killed.
	ExitCode int
	// Output is the decoded stdout followed by the decoded stderr.
	Output string
	// Err is the cause: an *exec.ExitError, an error wrapping
	// context.DeadlineExceeded or context.Canceled, or one from starting.
	Err error
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("failed to run %v: %v (out=%q)", append([]string{"wsl.exe"}, e.Args...), e.Err, e.Output)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Run runs wsl.exe with args and returns its decoded stdout. Errors are
// *Error. A timeout wraps context.DeadlineExceeded. On hosts other than
// Windows, a missing wsl.exe gives an error wrapping errors.ErrUnsupported.
func (e Exec) Run(ctx context.Context, args ...string) (string, error) {
	fail := func(code int, out string, err error) (string, error) {
		return "", &Error{Args: args, ExitCode: code, Output: out, Err: err}
	}
	path, err := e.lookPath()
	if err != nil {
		return fail(-1, "", err)
	}

	timeout := e.bound(ctx)
	runCtx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}

	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(runCtx, path, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if len(e.Env) > 0 {
		cmd.Env = append(os.Environ(), e.Env...)
	}
	cmd.WaitDelay = waitDelay
	err = run(cmd)

	out := Decode(stdout.Bytes())
	if err == nil {
		return out, nil
	}
	out += Decode(stderr.Bytes())
	switch {
	case ctx.Err() != nil:
		return fail(-1, out, fmt.Errorf("cut short by its context: %w", ctx.Err()))
	case runCtx.Err() != nil:
		return fail(-1, out, fmt.Errorf("killed after its %v timeout: %w", timeout, runCtx.Err()))
	case cmd.ProcessState != nil:
		// ExitCode is -1 if a signal killed wsl.exe.
		return fail(cmd.ProcessState.ExitCode(), out, err)
	}
	return fail(-1, out, err)
}

// bound returns the timeout that Run applies on top of ctx, <= 0 for none:
// Timeout, or DefaultTimeout when Timeout is zero and ctx has no deadline,
// so that a caller that set no bound at all still gets one.
func (e Exec) bound(ctx context.Context) time.Duration {
	if e.Timeout != 0 {
		return e.Timeout
	}
	if _, ok := ctx.Deadline(); ok {
		return -1
	}
	return DefaultTimeout
}

// lookPath resolves Path, or wsl.exe on PATH when Path is empty.
func (e Exec) lookPath() (string, error) {
	if e.Path != "" {
		return e.Path, nil
	}
	path, err := exec.LookPath("wsl.exe")
	if err != nil {
		return "", lookPathError(err)
	}
	return path, nil
}

// Decode converts wsl.exe's output to UTF-8. wsl.exe writes UTF-16LE,
// usually without a byte order mark, unless WSL_UTF8=1 is set, when it
// writes UTF-8. UTF-8 text holds no NUL bytes, while UTF-16LE text holds
// one in every ASCII character, so output with a UTF-16LE BOM, with a NUL,
// or that is not valid UTF-8 but has an even length is read as UTF-16LE.
// A trailing odd byte (output cut short by a kill) is dropped.
func Decode(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte{0xff, 0xfe}):
		return decodeUTF16LE(b[2:])
	case bytes.HasPrefix(b, []byte{0xef, 0xbb, 0xbf}):
		return string(b[3:])
	case bytes.IndexByte(b, 0) >= 0, !utf8.Valid(b) && len(b)%2 == 0:
		return decodeUTF16LE(b)
	}
	return string(b)
}

func decodeUTF16LE(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u))
}
