// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// progress is the slog.Handler of the stop policies' Logger: it turns their
// "step started", "step done" and "step failed" records into what a person
// at a terminal wants to see. On a terminal it redraws one status line,
// "sim: waiting for host agent (pid 123) to exit… 3s", so that a long wait
// is visibly a wait; elsewhere (a pipe, a log file) it prints a line per
// step as it starts. Warnings that are not about a step, such as an Orphan
// stop escalating, are always printed; -v adds a line per step as it ends.
//
// Close it before writing to the terminal otherwise.
type progress struct {
	*progressState
	attrs []slog.Attr // from WithAttrs
}

type progressState struct {
	w       io.Writer
	tty     bool
	verbose bool
	width   int // of the status line, in runes
	now     func() time.Time

	mu      sync.Mutex
	running map[string]runningStep // by instance
	drawn   int                    // runes of the status line on screen
	last    string                 // the status line on screen
	frozen  bool                   // set by Interrupted: no more redrawing

	closeOnce sync.Once
	stop      chan struct{} // closed by Close
	done      chan struct{} // closed when the ticker has stopped
}

type runningStep struct {
	action string
	since  time.Time
}

// redrawEvery is how often the status line is redrawn: often enough for
// the seconds to tick, and a step that ends sooner is never drawn at all.
const redrawEvery = 250 * time.Millisecond

var _ slog.Handler = progress{}

// newProgress returns a progress writing to w, which it treats as a
// terminal if it is one.
func newProgress(w io.Writer, verbose bool) progress {
	width, tty := terminal(w)
	s := &progressState{
		w: w, tty: tty, verbose: verbose, width: width, now: time.Now,
		running: map[string]runningStep{}, stop: make(chan struct{}), done: make(chan struct{}),
	}
	if s.tty {
		go s.tick()
	} else {
		close(s.done)
	}
	return progress{progressState: s}
}

// Close stops the redrawing and clears the status line.
func (s *progressState) Close() {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clear()
}

// Interrupted leaves the status line on screen, with the "^C" that the
// terminal echoed after it, as the record of what was going on, and stops
// redrawing it.
func (s *progressState) Interrupted() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drawn > 0 {
		fmt.Fprintln(s.w)
	}
	s.drawn, s.last, s.frozen = 0, "", true
}

func (p progress) Enabled(context.Context, slog.Level) bool {
	// "step started" is a Debug record, and it is the one that matters
	// most here.
	return true
}

func (p progress) WithAttrs(attrs []slog.Attr) slog.Handler {
	return progress{progressState: p.progressState, attrs: append(slices.Clip(p.attrs), attrs...)}
}

// WithGroup returns p: the records here are flat.
func (p progress) WithGroup(string) slog.Handler { return p }

func (p progress) Handle(_ context.Context, r slog.Record) error {
	attrs := map[string]slog.Value{}
	var order []string
	add := func(a slog.Attr) bool {
		if _, ok := attrs[a.Key]; !ok {
			order = append(order, a.Key)
		}
		attrs[a.Key] = a.Value.Resolve()
		return true
	}
	for _, a := range p.attrs {
		add(a)
	}
	r.Attrs(add)
	str := func(key string) string {
		if v, ok := attrs[key]; ok {
			return v.String()
		}
		return ""
	}
	inst, action := str("instance"), str("action")
	at := r.Time
	if at.IsZero() {
		at = p.now()
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.Message {
	case "step started":
		p.running[inst] = runningStep{action: action, since: at}
		if !p.tty {
			p.println(inst + ": " + ongoing(action))
		}
	case "step done", "step failed":
		if cur, ok := p.running[inst]; ok && cur.action == action {
			delete(p.running, inst)
		}
		if !p.verbose {
			return nil
		}
		var took time.Duration
		if v := attrs["took"]; v.Kind() == slog.KindDuration {
			took = roundDuration(v.Duration())
		}
		switch {
		case r.Message == "step failed":
			p.println(fmt.Sprintf("%s: %s: failed after %s: %s", inst, action, took, str("error")))
		case attrs["gone"].Kind() == slog.KindBool && attrs["gone"].Bool():
			p.println(fmt.Sprintf("%s: %s: already gone (%s)", inst, action, took))
		default:
			p.println(fmt.Sprintf("%s: %s (%s)", inst, action, took))
		}
	default:
		if r.Level < slog.LevelWarn && !p.verbose {
			return nil
		}
		var b strings.Builder
		if inst != "" {
			b.WriteString(inst + ": ")
		}
		b.WriteString(r.Message)
		for _, k := range order {
			switch k {
			case "instance":
			case "reason", "error":
				b.WriteString(": " + attrs[k].String())
			default:
				b.WriteString(" " + k + "=" + strconv.Quote(attrs[k].String()))
			}
		}
		p.println(b.String())
	}
	return nil
}

// tick redraws the status line until Close.
func (s *progressState) tick() {
	defer close(s.done)
	t := time.NewTicker(redrawEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			s.draw()
			s.mu.Unlock()
		}
	}
}

// draw redraws the status line, if it changed. The caller holds mu.
func (s *progressState) draw() {
	line := s.statusLine()
	if s.frozen || line == s.last {
		return
	}
	n := utf8.RuneCountInString(line)
	// A carriage return and spaces over the rest of the old line, rather
	// than an ANSI erase sequence: Windows consoles show those as text
	// unless virtual terminal processing is on.
	fmt.Fprint(s.w, "\r"+line+strings.Repeat(" ", max(0, s.drawn-n)))
	if s.drawn > n {
		fmt.Fprint(s.w, "\r"+line)
	}
	s.drawn, s.last = n, line
}

// statusLine says, for each instance, which step it waits for and for
// how long, cut to the terminal's width. The caller holds mu.
func (s *progressState) statusLine() string {
	insts := make([]string, 0, len(s.running))
	for inst := range s.running {
		insts = append(insts, inst)
	}
	slices.Sort(insts)
	parts := make([]string, 0, len(insts))
	for _, inst := range insts {
		cur := s.running[inst]
		elapsed := s.now().Sub(cur.since).Truncate(time.Second)
		parts = append(parts, fmt.Sprintf("%s: %s… %s", inst, ongoing(cur.action), elapsed))
	}
	line := strings.Join(parts, "  ")
	if utf8.RuneCountInString(line) >= s.width {
		r := []rune(line)
		line = string(r[:s.width-2]) + "…"
	}
	return line
}

// println prints line on a line of its own, above the status line, which
// the next tick redraws. The caller holds mu.
func (s *progressState) println(line string) {
	s.clear()
	fmt.Fprintln(s.w, line)
}

// clear clears the status line. The caller holds mu.
func (s *progressState) clear() {
	if s.drawn > 0 {
		fmt.Fprint(s.w, "\r"+strings.Repeat(" ", s.drawn)+"\r")
	}
	s.drawn, s.last = 0, ""
}

// ongoing turns a step's action, "wait for host agent (pid 123) to exit",
// into what is going on: "waiting for host agent (pid 123) to exit". An
// action with another first word is left as it is.
func ongoing(action string) string {
	verb, rest, _ := strings.Cut(action, " ")
	switch verb {
	case "wait", "interrupt", "kill", "reap", "confirm", "check", "unlock", "request", "search", "find", "list":
		verb += "ing"
	case "remove", "terminate":
		verb = strings.TrimSuffix(verb, "e") + "ing"
	default:
		return action
	}
	if rest == "" {
		return verb
	}
	return verb + " " + rest
}

// roundDuration rounds d for people: to the millisecond below a second,
// else to the hundredth of a second.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}

// terminal reports whether w is a terminal, where a status line can be
// redrawn in place, and its width.
func terminal(w io.Writer) (width int, ok bool) {
	f, isFile := w.(*os.File)
	if !isFile || os.Getenv("TERM") == "dumb" {
		return 0, false
	}
	width, ok = terminalWidth(f)
	if width < 20 {
		width = 80 // unknown, or too narrow to be worth cutting to
	}
	return width, ok
}
