// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/process"
)

func TestParsePID(t *testing.T) {
	for _, tc := range []struct {
		name    string
		text    string
		want    int
		wantErr error
	}{
		{name: "lima's format", text: "4242\n", want: 4242},
		{name: "ascii blanks", text: " \t4242\r\n\v\f", want: 4242},
		{name: "leading zeros", text: "0042", want: 42},
		{name: "smallest", text: "2", want: 2},
		{name: "largest 32-bit", text: "2147483647", want: 2147483647},
		{name: "empty", text: "", wantErr: process.ErrBadPIDFile},
		{name: "blank", text: " \n", wantErr: process.ErrBadPIDFile},
		{name: "letters", text: "pid", wantErr: process.ErrBadPIDFile},
		{name: "plus sign", text: "+4242", wantErr: process.ErrBadPIDFile},
		{name: "negative", text: "-4242", wantErr: process.ErrBadPIDFile},
		{name: "minus one", text: "-1", wantErr: process.ErrBadPIDFile},
		{name: "blank inside", text: "42 42", wantErr: process.ErrBadPIDFile},
		{name: "two lines", text: "42\n43\n", wantErr: process.ErrBadPIDFile},
		{name: "hex", text: "0x10", wantErr: process.ErrBadPIDFile},
		{name: "underscore", text: "4_242", wantErr: process.ErrBadPIDFile},
		{name: "nul", text: "42\x00", wantErr: process.ErrBadPIDFile},
		{name: "no-break space", text: "\u00a0123", wantErr: process.ErrBadPIDFile},
		{name: "ideographic space", text: "123\u3000", wantErr: process.ErrBadPIDFile},
		{name: "arabic-indic digits", text: "\u0664\u0662", wantErr: process.ErrBadPIDFile},
		{name: "zero", text: "0", wantErr: process.ErrUnsafePID},
		{name: "init", text: "1", wantErr: process.ErrUnsafePID},
		{name: "beyond 32 bits", text: "2147483648", wantErr: process.ErrUnsafePID},
		{name: "uint32 max, kill(-1) on Linux", text: "4294967295", wantErr: process.ErrUnsafePID},
		// 2^32+2 narrowed to a 32-bit int would be PID 2.
		{name: "2^32+2", text: "4294967298", wantErr: process.ErrUnsafePID},
		{name: "int64 max", text: "9223372036854775807", wantErr: process.ErrUnsafePID},
		{name: "beyond 64 bits", text: "99999999999999999999", wantErr: process.ErrUnsafePID},
		{name: "beyond 64 bits, many digits", text: strings.Repeat("9", 100), wantErr: process.ErrUnsafePID},
		{name: "many leading zeros", text: strings.Repeat("0", 30) + "1", wantErr: process.ErrUnsafePID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pid, err := process.ParsePID(tc.text)
			if tc.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, tc.want, pid)
				return
			}
			assert.ErrorIs(t, err, tc.wantErr)
			// A pid file is garbage or unsafe, never both.
			assert.NotEqual(t, errors.Is(err, process.ErrBadPIDFile), errors.Is(err, process.ErrUnsafePID), "%v", err)
			assert.Zero(t, pid)
		})
	}
}

func TestCheckPID(t *testing.T) {
	beyond := int64(1) << 31 // a variable: on a 32-bit platform it wraps
	for _, pid := range []int{-1, 0, 1, int(beyond), os.Getpid(), os.Getppid()} {
		assert.ErrorIs(t, process.CheckPID(pid), process.ErrUnsafePID, "CheckPID(%d)", pid)
	}
	sibling := startChild(t)
	assert.NoError(t, process.CheckPID(sibling.pid), "a child of the caller is no ancestor")
}

// TestCheckPIDGrandchild runs CheckPID in a grandchild of the test process,
// so that the test process is its grandparent and the test's parent its
// great-grandparent, and a waiter started by the test is an unrelated
// process of the same tree.
func TestCheckPIDGrandchild(t *testing.T) {
	sibling := startChild(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	spawner := exec.CommandContext(ctx, os.Args[0])
	spawner.Env = append(os.Environ(), childEnv+"=spawncheck",
		checkPIDsEnv+"="+strings.Join([]string{strconv.Itoa(os.Getpid()), strconv.Itoa(os.Getppid()), strconv.Itoa(sibling.pid)}, " "))
	spawner.Stderr = os.Stderr
	spawner.WaitDelay = time.Second
	out, err := spawner.Output()
	require.NoError(t, err)

	verdicts := map[int]string{}
	var order []int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pid, verdict, ok := strings.Cut(strings.TrimSpace(line), " ")
		require.True(t, ok, "%q", line)
		n, err := strconv.Atoi(pid)
		require.NoError(t, err)
		verdicts[n] = verdict
		order = append(order, n)
	}
	require.Len(t, order, 5, "%q", out)
	assert.Equal(t, "refused", verdicts[order[0]], "the grandchild itself")
	assert.Equal(t, spawner.Process.Pid, order[1], "the grandchild's parent is the spawner")
	assert.Equal(t, "refused", verdicts[spawner.Process.Pid], "the parent")
	assert.Equal(t, "refused", verdicts[os.Getpid()], "the grandparent")
	assert.Equal(t, "refused", verdicts[os.Getppid()], "the great-grandparent")
	assert.Equal(t, "accepted", verdicts[sibling.pid], "an unrelated process")
}

// awkwardArgs are arguments that must come back from CommandLine as they
// were passed: a shell or a glob would change them.
var awkwardArgs = []string{"plain", "with space", "[x]*?", "--pidfile=/a b/ha.pid", "-pidfile", "/tmp/$HOME/qemu.pid"}

func TestCommandLineOfChild(t *testing.T) {
	c := startChildWith(t, awkwardArgs)
	p := find(t, c.pid)
	got, err := p.CommandLine()
	require.NoError(t, err)
	assert.Equal(t, c.cmd.Args, got)

	require.NoError(t, p.Kill())
	c.exitCode(t) // reaped: the PID is free for reuse
	_, err = p.CommandLine()
	assert.ErrorIs(t, err, process.ErrNotFound)
}

func TestListFindsChild(t *testing.T) {
	c := startChildWith(t, awkwardArgs)
	entries, err := process.SystemTable{}.List()
	require.NoError(t, err)
	var found []process.Entry
	for _, e := range entries {
		if e.PID == c.pid {
			found = append(found, e)
		}
	}
	require.Len(t, found, 1, "pid %d among %d processes", c.pid, len(entries))
	assert.Equal(t, c.cmd.Args, found[0].CommandLine)
}

// TestFindRacingExit finds processes while they are reaped: every failure
// must say the process is gone, whatever step of Find noticed it (on Linux
// a read of /proc/PID/stat that opened before the reap fails with ESRCH).
func TestFindRacingExit(t *testing.T) {
	const (
		minFinds, minChildren, batch = 2000, 100, 25
		finders, findsBeforeReap     = 4, 10
	)
	var (
		mu       sync.Mutex
		finds    int
		notFound int
		bad      []error
	)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	children := 0
	for (finds < minFinds || children < minChildren) && ctx.Err() == nil {
		// The waiters start and exit in parallel, which matters under
		// the race detector's slow start-up and exit, and are reaped
		// one at a time while they are being found.
		cs := make([]*child, batch)
		ps := make([]process.Process, batch)
		for i := range cs {
			cs[i] = &child{cmd: exec.Command(os.Args[0])}
			cs[i].cmd.Env = append(os.Environ(), childEnv+"=wait")
			cs[i].start(t)
			cs[i].pid = cs[i].cmd.Process.Pid
			t.Cleanup(func() { _ = cs[i].cmd.Process.Kill(); _ = cs[i].cmd.Wait() })
		}
		for i, c := range cs {
			c.expect(t, "ready")
			ps[i] = find(t, c.pid)
		}
		for _, c := range cs {
			require.NoError(t, c.stdin.Close())
		}
		for i, c := range cs {
			require.NoError(t, ps[i].Wait(ctx)) // exited, not yet reaped
			reaped := make(chan struct{})
			var started, done sync.WaitGroup
			started.Add(finders)
			for range finders {
				done.Go(func() {
					// Find until the reaped PID is reported gone, or a
					// bounded number of times if it was reused.
					for n := range 10000 {
						if n == findsBeforeReap {
							started.Done()
						}
						p, err := process.System().Find(c.pid)
						mu.Lock()
						finds++
						switch {
						case err == nil:
							_ = p.Release()
						case errors.Is(err, process.ErrNotFound):
							notFound++
						default:
							bad = append(bad, err)
						}
						mu.Unlock()
						if n >= findsBeforeReap && err != nil {
							select {
							case <-reaped:
								return
							default:
							}
						}
					}
				})
			}
			started.Wait()
			_ = c.cmd.Wait()
			close(reaped)
			done.Wait()
			children++
		}
	}
	t.Logf("%d Finds of %d exiting children, %d of them not found", finds, children, notFound)
	assert.Empty(t, bad, "errors that do not wrap ErrNotFound")
	assert.GreaterOrEqual(t, finds, minFinds)
	assert.GreaterOrEqual(t, children, minChildren)
	assert.Positive(t, notFound)
}
