// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testProgress returns a progress writing to b at the time *now, with no
// ticker: the test draws.
func testProgress(b *strings.Builder, tty, verbose bool, now *time.Time) progress {
	s := &progressState{
		w: b, tty: tty, verbose: verbose, width: 100, now: func() time.Time { return *now },
		running: map[string]runningStep{}, stop: make(chan struct{}), done: make(chan struct{}),
	}
	close(s.done)
	return progress{progressState: s}
}

// record logs a step record as the stop package does.
func record(t *testing.T, p progress, at time.Time, level slog.Level, msg, inst, action string, extra ...slog.Attr) {
	t.Helper()
	r := slog.NewRecord(at, level, msg, 0)
	r.AddAttrs(slog.String("instance", inst), slog.String("step", "wait"), slog.String("action", action))
	r.AddAttrs(extra...)
	require.NoError(t, p.Handle(context.Background(), r))
}

func TestProgressTerminal(t *testing.T) {
	var b strings.Builder
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p := testProgress(&b, true, false, &now)
	record(t, p, now, slog.LevelDebug, "step started", "sim", "wait for host agent (pid 123) to exit")
	now = now.Add(3500 * time.Millisecond)
	p.draw()
	assert.Equal(t, "\rsim: waiting for host agent (pid 123) to exit… 3s", b.String())

	b.Reset()
	p.draw() // unchanged: nothing written
	assert.Empty(t, b.String())

	record(t, p, now, slog.LevelDebug, "step started", "a", "kill driver (pid 7)")
	now = now.Add(time.Second)
	b.Reset()
	p.draw()
	want := "a: killing driver (pid 7)… 1s  sim: waiting for host agent (pid 123) to exit… 4s"
	assert.Equal(t, "\r"+want, b.String())

	// A warning goes on a line of its own; the shorter status line that
	// follows covers the longer one with spaces.
	b.Reset()
	r := slog.NewRecord(now, slog.LevelWarn, "escalating to a forced stop", 0)
	r.AddAttrs(slog.String("instance", "sim"), slog.String("reason", "timeout"))
	require.NoError(t, p.Handle(context.Background(), r))
	record(t, p, now, slog.LevelInfo, "step done", "a", "kill driver (pid 7)", slog.Duration("took", time.Millisecond))
	p.draw()
	line := "sim: waiting for host agent (pid 123) to exit… 4s"
	assert.Equal(t, "\r"+strings.Repeat(" ", len([]rune(want)))+"\r"+"sim: escalating to a forced stop: timeout\n\r"+line, b.String())

	// Cut to the terminal's width.
	p.width = 20
	b.Reset()
	p.draw()
	cut := "sim: waiting for h…" // one column left for the cursor
	assert.Equal(t, "\r"+cut+strings.Repeat(" ", len([]rune(line))-len([]rune(cut)))+"\r"+cut, b.String())
	line = cut

	b.Reset()
	p.Close()
	assert.Equal(t, "\r"+strings.Repeat(" ", len([]rune(line)))+"\r", b.String())

	// Interrupted: the status line stays, and is no longer redrawn.
	p.draw()
	b.Reset()
	p.Interrupted()
	now = now.Add(time.Second)
	p.draw()
	p.Close()
	assert.Equal(t, "\n", b.String())
}

func TestProgressLines(t *testing.T) {
	tests := []struct {
		name    string
		verbose bool
		want    string
	}{
		{name: "quiet", want: "sim: waiting for host agent (pid 123) to exit\n"},
		{name: "verbose", verbose: true, want: "sim: waiting for host agent (pid 123) to exit\n" +
			"sim: wait for host agent (pid 123) to exit (1.5s)\n" +
			"sim: kill driver (pid 7): failed after 2ms: permission denied\n" +
			"sim: identified role=\"driver\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			now := time.Now()
			p := testProgress(&b, false, tt.verbose, &now)
			record(t, p, now, slog.LevelDebug, "step started", "sim", "wait for host agent (pid 123) to exit")
			record(t, p, now, slog.LevelInfo, "step done", "sim", "wait for host agent (pid 123) to exit", slog.Duration("took", 1500*time.Millisecond))
			record(t, p, now, slog.LevelWarn, "step failed", "sim", "kill driver (pid 7)",
				slog.Duration("took", 2*time.Millisecond), slog.String("error", "permission denied"))
			r := slog.NewRecord(now, slog.LevelDebug, "identified", 0)
			r.AddAttrs(slog.String("instance", "sim"), slog.String("role", "driver"))
			require.NoError(t, p.WithAttrs(nil).Handle(context.Background(), r))
			assert.Equal(t, tt.want, b.String())
			assert.Empty(t, p.running)
		})
	}
}

func TestOngoing(t *testing.T) {
	for action, want := range map[string]string{
		"wait for host agent (pid 1) to exit":                 "waiting for host agent (pid 1) to exit",
		"remove stale pid files, sockets and temporary files": "removing stale pid files, sockets and temporary files",
		"terminate WSL2 distro lima-sim":                      "terminating WSL2 distro lima-sim",
		"check that every pid file is stale":                  "checking that every pid file is stale",
		"reap the memory of driver (pid 7)":                   "reaping the memory of driver (pid 7)",
		"something else":                                      "something else",
	} {
		assert.Equal(t, want, ongoing(action))
	}
}
