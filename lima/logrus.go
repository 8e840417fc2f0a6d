// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package lima

import (
	"context"
	"log/slog"

	"github.com/sirupsen/logrus"
)

// Logger returns a *slog.Logger for the policies' Logger fields that writes
// through l, so that their steps show in a Lima-based program's output with
// its format, level and hooks. A nil l means logrus.StandardLogger(), the
// logger limactl configures.
//
// Levels map to logrus's by range: below slog.LevelDebug is Trace, then
// Debug, Info, Warn, and slog.LevelError and above is Error; never Fatal or
// Panic, which would end the program. Attributes become logrus fields;
// inside a group, a key is prefixed with the group's name and a dot, so
// slog.Group("disk", "name", "data") becomes the field disk.name=data. The
// record's time becomes the entry's; the context reaches logrus hooks as
// the entry's Context.
func Logger(l logrus.FieldLogger) *slog.Logger {
	if l == nil {
		l = logrus.StandardLogger()
	}
	// WithFields(nil) turns a *logrus.Logger and a *logrus.Entry alike
	// into an entry that keeps the fields l already carries.
	return slog.New(&logrusHandler{entry: l.WithFields(nil)})
}

// logrusHandler is a slog.Handler over a logrus entry. It is immutable:
// WithAttrs and WithGroup return new handlers.
type logrusHandler struct {
	// entry holds the fields added by WithAttrs, already prefixed.
	entry *logrus.Entry
	// prefix is the dotted path of the open groups, "" or ending in ".".
	prefix string
}

var _ slog.Handler = (*logrusHandler)(nil)

func (h *logrusHandler) Enabled(_ context.Context, level slog.Level) bool {
	return h.entry.Logger.IsLevelEnabled(logrusLevel(level))
}

func (h *logrusHandler) Handle(ctx context.Context, r slog.Record) error {
	fields := make(logrus.Fields, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		addField(fields, h.prefix, a)
		return true
	})
	e := h.entry.WithContext(ctx).WithFields(fields)
	if !r.Time.IsZero() {
		// logrus stamps a zero time with time.Now() itself.
		e = e.WithTime(r.Time)
	}
	e.Log(logrusLevel(r.Level), r.Message)
	return nil
}

func (h *logrusHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	fields := make(logrus.Fields, len(attrs))
	for _, a := range attrs {
		addField(fields, h.prefix, a)
	}
	return &logrusHandler{entry: h.entry.WithFields(fields), prefix: h.prefix}
}

func (h *logrusHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &logrusHandler{entry: h.entry, prefix: h.prefix + name + "."}
}

// addField adds a to fields under prefix, following slog's rules: an empty
// attribute is dropped, a group's attributes are added under its name (or
// inline when its key is empty), and an empty group is dropped.
func addField(fields logrus.Fields, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() != slog.KindGroup {
		fields[prefix+a.Key] = a.Value.Any()
		return
	}
	if a.Key != "" {
		prefix += a.Key + "."
	}
	for _, ga := range a.Value.Group() {
		addField(fields, prefix, ga)
	}
}

// logrusLevel maps a slog level to the logrus level of its range.
func logrusLevel(level slog.Level) logrus.Level {
	switch {
	case level < slog.LevelDebug:
		return logrus.TraceLevel
	case level < slog.LevelInfo:
		return logrus.DebugLevel
	case level < slog.LevelWarn:
		return logrus.InfoLevel
	case level < slog.LevelError:
		return logrus.WarnLevel
	}
	return logrus.ErrorLevel
}
