// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package lima_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/lima"
)

// recorder is a logrus hook that keeps every entry logged.
type recorder struct{ entries []*logrus.Entry }

func (*recorder) Levels() []logrus.Level { return logrus.AllLevels }

func (r *recorder) Fire(e *logrus.Entry) error {
	r.entries = append(r.entries, e)
	return nil
}

// newLogrus returns a logrus logger at level that writes nothing and
// records its entries.
func newLogrus(level logrus.Level) (*logrus.Logger, *recorder) {
	l := logrus.New()
	l.SetOutput(io.Discard)
	l.SetLevel(level)
	rec := &recorder{}
	l.AddHook(rec)
	return l, rec
}

// stringer resolves to its text through slog.LogValuer.
type stringer string

func (s stringer) LogValue() slog.Value { return slog.StringValue("resolved " + string(s)) }

func TestLoggerLevels(t *testing.T) {
	tests := []struct {
		name  string
		level slog.Level
		want  logrus.Level
	}{
		{name: "below debug", level: slog.LevelDebug - 4, want: logrus.TraceLevel},
		{name: "debug", level: slog.LevelDebug, want: logrus.DebugLevel},
		{name: "between debug and info", level: slog.LevelDebug + 2, want: logrus.DebugLevel},
		{name: "info", level: slog.LevelInfo, want: logrus.InfoLevel},
		{name: "warn", level: slog.LevelWarn, want: logrus.WarnLevel},
		{name: "error", level: slog.LevelError, want: logrus.ErrorLevel},
		{name: "above error, never fatal", level: slog.LevelError + 8, want: logrus.ErrorLevel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, rec := newLogrus(logrus.TraceLevel)
			lima.Logger(l).Log(context.Background(), tt.level, "hello")
			require.Len(t, rec.entries, 1)
			assert.Equal(t, tt.want, rec.entries[0].Level)
			assert.Equal(t, "hello", rec.entries[0].Message)
		})
	}
}

func TestLoggerEnabled(t *testing.T) {
	l, rec := newLogrus(logrus.InfoLevel)
	logger := lima.Logger(l)
	ctx := context.Background()
	assert.False(t, logger.Enabled(ctx, slog.LevelDebug))
	assert.True(t, logger.Enabled(ctx, slog.LevelInfo))
	logger.Debug("dropped")
	logger.Warn("kept")
	require.Len(t, rec.entries, 1)
	assert.Equal(t, "kept", rec.entries[0].Message)

	// The level is read at each call, as limactl's --log-level sets it
	// after the logger may have been made.
	l.SetLevel(logrus.DebugLevel)
	assert.True(t, logger.Enabled(ctx, slog.LevelDebug))
}

func TestLoggerAttrs(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		log  func(*slog.Logger)
		want logrus.Fields
	}{
		{
			name: "plain attributes, errors kept as errors",
			log:  func(l *slog.Logger) { l.Info("m", "pid", 42, "error", boom, slog.Duration("took", time.Second)) },
			want: logrus.Fields{"pid": int64(42), "error": boom, "took": time.Second},
		},
		{
			name: "WithAttrs, then a group, then more attributes",
			log: func(l *slog.Logger) {
				l.With("instance", "default").WithGroup("step").With("phase", "kill").Info("m", "pid", 7)
			},
			want: logrus.Fields{"instance": "default", "step.phase": "kill", "step.pid": int64(7)},
		},
		{
			name: "nested and inline groups",
			log: func(l *slog.Logger) {
				l.WithGroup("a").Info("m", slog.Group("b", "c", true), slog.Group("", "d", 1))
			},
			want: logrus.Fields{"a.b.c": true, "a.d": int64(1)},
		},
		{
			name: "empty attributes, empty groups and empty group names dropped",
			log: func(l *slog.Logger) {
				l.WithGroup("").Info("m", slog.Attr{}, slog.Group("none"), "k", "v")
			},
			want: logrus.Fields{"k": "v"},
		},
		{
			name: "a group with no attributes adds no field",
			log:  func(l *slog.Logger) { l.WithGroup("g").Info("m") },
			want: logrus.Fields{},
		},
		{
			name: "LogValuer resolved, also inside groups",
			log: func(l *slog.Logger) {
				l.With("x", stringer("one")).Info("m", slog.Group("g", "y", stringer("two")))
			},
			want: logrus.Fields{"x": "resolved one", "g.y": "resolved two"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, rec := newLogrus(logrus.InfoLevel)
			tt.log(lima.Logger(l))
			require.Len(t, rec.entries, 1)
			assert.Equal(t, tt.want, rec.entries[0].Data)
		})
	}
}

func TestLoggerFromEntry(t *testing.T) {
	l, rec := newLogrus(logrus.InfoLevel)
	logger := lima.Logger(l.WithField("component", "stop"))
	logger.Info("first", "n", 1)
	logger.Info("second")
	require.Len(t, rec.entries, 2)
	assert.Equal(t, logrus.Fields{"component": "stop", "n": int64(1)}, rec.entries[0].Data)
	assert.Equal(t, logrus.Fields{"component": "stop"}, rec.entries[1].Data, "a record's fields leaked into the next")
}

func TestLoggerTimeAndContext(t *testing.T) {
	l, rec := newLogrus(logrus.InfoLevel)
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "v")
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	r := slog.NewRecord(at, slog.LevelInfo, "m", 0)
	require.NoError(t, lima.Logger(l).Handler().Handle(ctx, r))
	require.Len(t, rec.entries, 1)
	assert.Equal(t, at, rec.entries[0].Time)
	assert.Equal(t, "v", rec.entries[0].Context.Value(key{}))

	// A record without a time gets logrus's own stamp.
	before := time.Now()
	require.NoError(t, lima.Logger(l).Handler().Handle(ctx, slog.NewRecord(time.Time{}, slog.LevelInfo, "m", 0)))
	require.Len(t, rec.entries, 2)
	assert.False(t, rec.entries[1].Time.Before(before))
}

func TestLoggerNil(t *testing.T) {
	std := logrus.StandardLogger()
	rec := &recorder{}
	hooks := std.ReplaceHooks(logrus.LevelHooks{})
	t.Cleanup(func() { std.ReplaceHooks(hooks) })
	std.AddHook(rec)
	out := std.Out
	std.SetOutput(io.Discard)
	t.Cleanup(func() { std.SetOutput(out) })

	lima.Logger(nil).Warn("to the standard logger")
	require.Len(t, rec.entries, 1)
	assert.Equal(t, "to the standard logger", rec.entries[0].Message)
}
