// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stopsignal_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/process"
	"github.com/limastop/stop/stopsignal"
)

// The test binary doubles as a host agent, selected by these environment
// variables, as os/exec's tests do.
const (
	// childEnv selects the API the host agent uses: "notify" or
	// "context".
	childEnv = "STOPSIGNAL_TEST_CHILD"
	// prefixEnv, if set, names the host agent's stop event: the prefix
	// followed by its PID.
	prefixEnv = "STOPSIGNAL_TEST_PREFIX"
	// ignoreEnv makes the host agent ignore its first stop request.
	ignoreEnv = "STOPSIGNAL_TEST_IGNORE"
)

const (
	exitStopped  = 3
	exitLifetime = 4
	exitFailure  = 5
)

// childLifetime bounds how long a host agent waits for a request, so that
// a failing test cannot hang.
const childLifetime = 30 * time.Second

// waitTimeout bounds every wait of a test.
const waitTimeout = 20 * time.Second

// testPrefix is a custom event name prefix in the style of the Rancher
// Desktop daemon's.
const testPrefix = `Local\rdd-test-interrupt-hostagent-sim-`

func TestMain(m *testing.M) {
	switch mode := os.Getenv(childEnv); mode {
	case "":
		os.Exit(m.Run())
	case "notify", "context":
		os.Exit(runHostAgent(mode))
	default:
		fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
		os.Exit(exitFailure)
	}
}

// runHostAgent opts into stop requests, prints "ready" and then one line
// per request: "ignored <signal>" for one it ignores, "stopped <signal>"
// for the one it stops on (with NotifyContext, the context's cause).
func runHostAgent(mode string) int {
	var opts []stopsignal.Option
	if prefix := os.Getenv(prefixEnv); prefix != "" {
		opts = append(opts, stopsignal.EventName(prefix+strconv.Itoa(os.Getpid())))
	}
	ignore := os.Getenv(ignoreEnv) == "1"
	lifetime := time.After(childLifetime)
	if mode == "context" {
		ctx, stop, err := stopsignal.NotifyContext(context.Background(), opts...)
		if err != nil {
			fmt.Println("error", err)
			return exitFailure
		}
		defer stop()
		fmt.Println("ready")
		select {
		case <-ctx.Done():
			fmt.Println("stopped", context.Cause(ctx))
			return exitStopped
		case <-lifetime:
			return exitLifetime
		}
	}
	c := make(chan os.Signal, 1)
	stop, err := stopsignal.Notify(c, opts...)
	if err != nil {
		fmt.Println("error", err)
		return exitFailure
	}
	defer stop()
	fmt.Println("ready")
	for {
		select {
		case sig := <-c:
			if ignore {
				ignore = false
				fmt.Println("ignored", sig)
				continue
			}
			fmt.Println("stopped", sig)
			return exitStopped
		case <-lifetime:
			return exitLifetime
		}
	}
}

// TestHostAgent stops host agents that use the API as a stop policy does,
// through process.SystemTable's Interrupt: SIGINT on Unix, the stop event
// on Windows, where the test, like a Windows service, has no console when
// it runs under Wine.
func TestHostAgent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mode   string
		prefix string // the custom event name prefix; "" for the default
		ignore bool
		want   []string // the lines after "ready"
	}{
		{name: "default name", mode: "notify", want: []string{"stopped interrupt"}},
		{name: "custom name", mode: "notify", prefix: testPrefix, want: []string{"stopped interrupt"}},
		{name: "ignored request", mode: "notify", ignore: true, want: []string{"ignored interrupt", "stopped interrupt"}},
		{name: "context, default name", mode: "context", want: []string{"stopped interrupt signal received"}},
		{name: "context, custom name", mode: "context", prefix: testPrefix, want: []string{"stopped interrupt signal received"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ha := startHostAgent(t, tc.mode, tc.prefix, tc.ignore)
			table := process.SystemTable{}
			if tc.prefix != "" {
				table.EventName = func(pid int) string { return tc.prefix + strconv.Itoa(pid) }
			}
			p, err := table.Find(ha.cmd.Process.Pid)
			require.NoError(t, err)
			defer p.Release()
			for _, want := range tc.want {
				require.NoError(t, p.Interrupt())
				assert.Equal(t, want, ha.line(t))
			}
			assert.Equal(t, exitStopped, ha.exitCode(t))
		})
	}
}

func TestBadEventName(t *testing.T) {
	for _, name := range []string{"", "a\x00b"} {
		c := make(chan os.Signal, 1)
		stop, err := stopsignal.Notify(c, stopsignal.EventName(name))
		assert.Error(t, err, "%q", name)
		assert.Nil(t, stop)
		ctx, cancel, err := stopsignal.NotifyContext(t.Context(), stopsignal.EventName(name))
		assert.Error(t, err, "%q", name)
		assert.Nil(t, ctx)
		assert.Nil(t, cancel)
	}
}

// TestStop checks that stop may be called more than once, and that the
// context of a NotifyContext that was stopped says so rather than naming a
// request.
func TestStop(t *testing.T) {
	c := make(chan os.Signal, 1)
	stop, err := stopsignal.Notify(c, stopsignal.EventName(uniqueName(t)))
	require.NoError(t, err)
	stop()
	stop()

	ctx, cancel, err := stopsignal.NotifyContext(t.Context(), stopsignal.EventName(uniqueName(t)))
	require.NoError(t, err)
	require.NoError(t, ctx.Err())
	cancel()
	cancel()
	assert.ErrorIs(t, ctx.Err(), context.Canceled)
	assert.ErrorIs(t, context.Cause(ctx), context.Canceled)
}

// TestParentDone checks that NotifyContext's context ends with its parent.
func TestParentDone(t *testing.T) {
	parent, cancelParent := context.WithCancelCause(t.Context())
	ctx, stop, err := stopsignal.NotifyContext(parent, stopsignal.EventName(uniqueName(t)))
	require.NoError(t, err)
	defer stop()
	cause := errors.New("parent gone")
	cancelParent(cause)
	select {
	case <-ctx.Done():
	case <-time.After(waitTimeout):
		t.Fatal("the context did not end with its parent")
	}
	assert.ErrorIs(t, context.Cause(ctx), cause)
}

// uniqueName returns an event name that no other test uses.
func uniqueName(t *testing.T) string {
	return fmt.Sprintf(`Local\stopsignal-test-%d-%s`, os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
}

// hostAgent is a host agent started by a test.
type hostAgent struct {
	cmd    *exec.Cmd
	out    *bufio.Reader
	exited chan struct{} // closed once cmd.Wait has returned
}

// startHostAgent starts a host agent and waits until it has opted into
// stop requests.
func startHostAgent(t *testing.T, mode, prefix string, ignore bool) *hostAgent {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+mode, prefixEnv+"="+prefix)
	if ignore {
		cmd.Env = append(cmd.Env, ignoreEnv+"=1")
	}
	cmd.Stderr = os.Stderr
	// A plain pipe rather than StdoutPipe, which Wait would close under
	// a pending read.
	r, w, err := os.Pipe()
	require.NoError(t, err)
	cmd.Stdout = w
	err = cmd.Start()
	_ = w.Close()
	require.NoError(t, err)
	ha := &hostAgent{cmd: cmd, out: bufio.NewReader(r), exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(ha.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-ha.exited
		_ = r.Close()
	})
	require.Equal(t, "ready", ha.line(t))
	return ha
}

// line returns the host agent's next line, failing the test if none comes
// within waitTimeout.
func (ha *hostAgent) line(t *testing.T) string {
	t.Helper()
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := ha.out.ReadString('\n')
		ch <- result{strings.TrimSpace(line), err}
	}()
	select {
	case res := <-ch:
		if errors.Is(res.err, io.EOF) && res.line == "" {
			t.Fatal("the host agent exited without a line")
		}
		require.NoError(t, res.err)
		return res.line
	case <-time.After(waitTimeout):
		// The cleanup's kill ends the read.
		t.Fatal("the host agent printed nothing")
		return ""
	}
}

// exitCode waits for the host agent and returns its exit code.
func (ha *hostAgent) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-ha.exited:
		return ha.cmd.ProcessState.ExitCode()
	case <-time.After(waitTimeout):
		t.Fatal("the host agent did not exit")
		return 0
	}
}
