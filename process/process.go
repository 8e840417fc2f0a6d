// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	// ErrNotFound means there is no such process: it has already exited.
	// Callers that want a process gone treat it as success.
	ErrNotFound = errors.New("process not found")

	// ErrUnsafePID means a well-formed PID was refused before anything was
	// signalled: it is <= 1, beyond the 32-bit range, or the PID of the
	// caller or of one of its ancestors.
	ErrUnsafePID = errors.New("unsafe pid")

	// ErrBadPIDFile means a pid file could not be used as a claim at all:
	// it is empty, holds something other than a decimal PID, is too long,
	// is not a regular file (a symlink, a FIFO, a directory) or cannot be
	// read. It says nothing about whether a process runs.
	ErrBadPIDFile = errors.New("bad pid file")

	// ErrIdentityUnknown means a live process holds a PID that an instance
	// claims, and the facts neither prove that it is the instance's nor
	// that it is a stranger. Nothing may be signalled, removed or unlocked
	// on its account.
	ErrIdentityUnknown = errors.New("process identity unknown")

	// ErrNotOurProcess means the PID now belongs to another process than
	// the one that wrote the pid file (or was recorded at launch). Nothing
	// was signalled.
	ErrNotOurProcess = errors.New("pid belongs to another process")

	// ErrInterruptUnavailable means there is no way to deliver a graceful
	// interrupt to the process from this caller, for example a Windows
	// service without a console whose target did not opt into the
	// console-less stop event. Nothing was signalled.
	ErrInterruptUnavailable = errors.New("cannot deliver an interrupt")
)

// notFound is the error for pid once it has exited.
func notFound(pid int) error { return fmt.Errorf("pid %d: %w", pid, ErrNotFound) }

// PIDFileSlack is how much later than its pid file's modification time a
// process may appear to have started and still count as the file's writer.
// It absorbs clock granularity only: start times are kept in 10 ms ticks on
// Linux and some file systems store modification times in whole seconds. A
// recycled PID belongs to a process that started after the original one
// exited, which is long after the pid file was written.
const PIDFileSlack = time.Second

// Table finds processes by PID.
type Table interface {
	// Find pins the process with the given PID so that later calls on the
	// returned Process cannot reach another process that reuses the PID.
	// It returns an error wrapping ErrNotFound if there is no such
	// process and ErrUnsafePID if CheckPID refuses pid.
	Find(pid int) (Process, error)
}

// Process is one pinned process. Its methods act on that exact process,
// never on whatever holds its PID later.
type Process interface {
	// PID returns the process ID.
	PID() int
	// StartTime returns when the process started, at the resolution the
	// OS offers (see VerifyStartTime).
	StartTime() time.Time
	// CommandLine returns the process's arguments, the program first,
	// read through the pin: an error is returned rather than the command
	// line of a process that reused the PID. It fails where the OS does not
	// let the caller read them (another user's process on macOS, for
	// example); an exited process yields an error wrapping ErrNotFound.
	CommandLine() ([]string, error)
	// Interrupt asks the process to shut down: SIGINT on Unix; on Windows
	// the console-less stop event, or CTRL_BREAK to the process's own
	// group where SystemTable.ConsoleBreak allows it. It returns an error
	// wrapping ErrNotFound if the process has exited and
	// ErrInterruptUnavailable if no request could be delivered.
	Interrupt() error
	// Kill ends the process at once: SIGKILL on Unix, TerminateProcess on
	// Windows. It returns an error wrapping ErrNotFound if the process
	// has already exited.
	Kill() error
	// Wait returns nil once the process has exited, or ctx.Err() when ctx
	// ends first. It does not reap: the process need not be a child.
	Wait(ctx context.Context) error
	// Release frees the OS resources pinning the process. The process
	// must not be used afterwards.
	Release() error
}

// Lister is implemented by tables that can list their processes, so that a
// process whose pid file is missing or garbage can still be found by its
// command line.
type Lister interface {
	// List returns a snapshot of the running processes. Its entries are
	// claims, not pins: Find a process and check it again before acting
	// on it. Processes whose command line cannot be read are listed with
	// a nil CommandLine.
	List() ([]Entry, error)
}

// Entry is one process of a Lister's snapshot.
type Entry struct {
	PID         int
	CommandLine []string
}

// System returns the process table of the operating system, with the
// default SystemTable settings.
func System() Table { return SystemTable{} }

// SystemTable is the process table of the operating system. Its zero value
// is what System returns.
type SystemTable struct {
	// ConsoleBreak lets Interrupt on Windows fall back to CTRL_BREAK for a
	// process that did not opt into the stop event (EventName) and
	// shares the caller's console. Windows sends the event to the
	// process group whose ID is the PID; for a process that does not lead
	// its own group, it sends it to every process on the console, the
	// caller included. So set it only when the processes were started with
	// CREATE_NEW_PROCESS_GROUP, as Lima starts its host agent. Other OSes
	// ignore it.
	ConsoleBreak bool

	// EventName names the stop event that Interrupt on Windows sets for
	// the process with the given PID. It must give the name the process
	// created its event by: the one its host agent passed to
	// stopsignal.EventName (package github.com/limastop/stop/stopsignal).
	// Nil means InterruptEventName, the default of both sides. An empty
	// name means the process has no stop event, so that only ConsoleBreak
	// can interrupt it. A name that holds more than the PID, such as the
	// Rancher Desktop daemon's, which holds the instance name, takes a
	// table per instance: a SystemTable is a plain value, cheap to make
	// for each stop. Other OSes ignore it.
	EventName func(pid int) string
}

// Find implements Table.
func (t SystemTable) Find(pid int) (Process, error) {
	if err := CheckPID(pid); err != nil {
		return nil, err
	}
	return t.find(pid)
}

// List implements Lister.
func (t SystemTable) List() ([]Entry, error) { return t.list() }

// CheckPID refuses PIDs that must never be signalled: anything <= 1 (on
// Unix 0 and -1 address process groups and 1 is init), anything beyond the
// 32-bit range (which Go's syscall.Kill truncates, turning 4294967295 into
// kill(-1, sig)), the caller's own PID and those of all its ancestors. If
// the ancestors cannot be listed, every PID is refused.
func CheckPID(pid int) error {
	if err := checkRange(int64(pid)); err != nil {
		return err
	}
	if pid == os.Getpid() {
		return fmt.Errorf("%w: %d is the caller's own PID", ErrUnsafePID, pid)
	}
	if up, err := firstAncestors(); err == nil && !slices.Contains(up, pid) {
		return nil
	}
	// Listed once, or the first listing failed: a fresh walk decides.
	up, err := ancestors()
	if err != nil {
		return fmt.Errorf("%w: cannot list the caller's ancestors to rule out %d: %w", ErrUnsafePID, pid, err)
	}
	if i := slices.Index(up, pid); i >= 0 {
		return fmt.Errorf("%w: %d is an ancestor of the caller (%d generations up)", ErrUnsafePID, pid, i+1)
	}
	return nil
}

// firstAncestors lists the caller's ancestors once. A process gains no
// ancestors after it starts: when a parent dies, its children go to a
// subreaper or to init, both ancestors already, and Windows never
// re-parents. So a PID missing from this first list is no ancestor now; a
// PID on it may be a dead ancestor's, reused, and is checked afresh.
var firstAncestors = sync.OnceValues(ancestors)

// checkRange refuses PIDs <= 1 and beyond 32 bits. It takes an int64 so
// that the check comes before any narrowing to int, which on a 32-bit
// platform would wrap.
func checkRange(pid int64) error {
	switch {
	case pid <= 1:
		return fmt.Errorf("%w: %d is not a process ID that may be signalled", ErrUnsafePID, pid)
	case pid > 1<<31-1:
		return fmt.Errorf("%w: %d is outside the 32-bit PID range", ErrUnsafePID, pid)
	}
	return nil
}

// ParsePID parses the contents of a pid file: a base-10 PID, optionally
// surrounded by ASCII white space such as the trailing newline Lima writes.
// Anything else (signs, blanks inside the number, other characters, no
// digits) is refused with an error wrapping ErrBadPIDFile. A well-formed
// PID <= 1 or beyond the 32-bit range is refused with ErrUnsafePID. The
// caller-specific checks of CheckPID are left to Find.
func ParsePID(text string) (int, error) {
	s := strings.Trim(text, " \t\n\r\v\f")
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%w: %q is not a decimal process ID", ErrBadPIDFile, text)
	}
	// Only digits are left, so the only error is overflow: a
	// well-formed PID beyond any range.
	pid, err := strconv.ParseUint(s, 10, 64)
	if err != nil || pid > math.MaxInt64 {
		return 0, fmt.Errorf("%w: %q is outside the 32-bit PID range", ErrUnsafePID, s)
	}
	if err := checkRange(int64(pid)); err != nil {
		return 0, err
	}
	return int(pid), nil
}

// maxPIDFileSize bounds how much of a pid file is read: a PID with white
// space is a few bytes, so anything longer is garbage and is refused without
// reading it all.
const maxPIDFileSize = 64

// ReadPIDFile reads and validates the pid file at path. It returns the PID
// and the file's modification time, which VerifyPIDFile needs. A missing
// file yields an error wrapping fs.ErrNotExist; one that is not a regular
// file, cannot be read or holds garbage, one wrapping ErrBadPIDFile; a
// well-formed PID that must never be signalled, one wrapping ErrUnsafePID.
func ReadPIDFile(path string) (pid int, modTime time.Time, err error) {
	// The file is opened without following a symlink and without blocking
	// on a FIFO, and checked on the opened descriptor: a check of the path
	// before opening it could be raced by a swap.
	f, err := openPIDFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, time.Time{}, err
		}
		return 0, time.Time{}, fmt.Errorf("%w: %q: %w", ErrBadPIDFile, path, err)
	}
	defer f.Close()
	mode, modTime, err := f.Stat()
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("%w: %q: %w", ErrBadPIDFile, path, err)
	}
	if !mode.IsRegular() {
		return 0, time.Time{}, fmt.Errorf("%w: %q is not a regular file (%s)", ErrBadPIDFile, path, mode.Type())
	}
	buf := make([]byte, maxPIDFileSize+1)
	n, err := readFull(f, buf)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("%w: failed to read %q: %w", ErrBadPIDFile, path, err)
	}
	if n > maxPIDFileSize {
		return 0, time.Time{}, fmt.Errorf("%w: %q is longer than %d bytes", ErrBadPIDFile, path, maxPIDFileSize)
	}
	pid, err = ParsePID(string(buf[:n]))
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("pid file %q: %w", path, err)
	}
	return pid, modTime, nil
}

// pidFile is a pid file opened by openPIDFile.
type pidFile interface {
	// Read reads as io.Reader does; at the end of the file it may also
	// return 0 and no error, as read(2) does.
	Read(b []byte) (int, error)
	// Stat returns the type bits of the file's mode and its modification
	// time, read from the opened file.
	Stat() (fs.FileMode, time.Time, error)
	Close() error
}

// readFull reads until buf is full or the file ends.
func readFull(f pidFile, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		switch {
		case errors.Is(err, io.EOF), err == nil && m == 0:
			return n, nil
		case err != nil:
			return n, err
		}
	}
	return n, nil
}

// VerifyPIDFile checks that p could have written a pid file last modified
// at written: it must have started no later than written plus PIDFileSlack.
// A process that started later holds a recycled PID, and the error wraps
// ErrNotOurProcess.
func VerifyPIDFile(p Process, written time.Time) error {
	started := p.StartTime()
	if started.After(written.Add(PIDFileSlack)) {
		return fmt.Errorf("%w: pid %d started at %s, after its pid file was written at %s",
			ErrNotOurProcess, p.PID(), started.Format(time.RFC3339Nano), written.Format(time.RFC3339Nano))
	}
	return nil
}

// VerifyStartTime checks that p started at recorded, a start time the caller
// took from StartTime when it launched the process. The times must agree to
// within the resolution of the OS's start time (one clock tick on Linux);
// otherwise the error wraps ErrNotOurProcess.
func VerifyStartTime(p Process, recorded time.Time) error {
	started := p.StartTime()
	d := started.Sub(recorded)
	if d < 0 {
		d = -d
	}
	if d*2 >= startTimeResolution {
		return fmt.Errorf("%w: pid %d started at %s, not at the recorded %s",
			ErrNotOurProcess, p.PID(), started.Format(time.RFC3339Nano), recorded.Format(time.RFC3339Nano))
	}
	return nil
}

// InterruptEventName returns the default name of the Windows event that a
// process with the given PID opts into for console-less interrupts: it
// creates a manual-reset event of this name, as stopsignal.Notify does
// (package github.com/limastop/stop/stopsignal), and shuts down gracefully
// once the event is set. Interrupt sets it when it exists, so a caller
// without a console, such as a Windows service, can stop the process
// gracefully. The name lives in the session's Local namespace.
// SystemTable.EventName and stopsignal.EventName replace it, for host
// agents that already name their event otherwise.
func InterruptEventName(pid int) string {
	return `Local\limastop-interrupt-` + strconv.Itoa(pid)
}
