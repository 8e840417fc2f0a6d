// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat times. The kernel ABI
// fixes it at 100 on every architecture Go supports.
const clockTicks = 100

const startTimeResolution = time.Second / clockTicks

// Find pins pid with a pidfd, then reads its start time and checks that the
// pidfd still refers to a live process: if the process exited between
// pidfd_open and reading /proc, the start time could belong to a successor.
// A process that has exited but not been reaped (a zombie) is ErrNotFound
// too: it runs no more, whoever waits for it.
func (SystemTable) find(pid int) (Process, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		switch {
		case errors.Is(err, unix.ESRCH):
			return nil, notFound(pid)
		case errors.Is(err, unix.ENOSYS):
			// Without a pidfd a PID cannot be pinned, so nothing is
			// signalled: pidfd_open needs Linux 5.3.
			return nil, fmt.Errorf("failed to open pidfd for pid %d (Linux 5.3 or later is required): %w", pid, errors.ErrUnsupported)
		}
		return nil, fmt.Errorf("failed to open pidfd for pid %d: %w", pid, err)
	}
	// The pidfd stays out of Go's netpoller: only Wait polls, and it
	// registers a duplicate of its own.
	p := &linuxProcess{pid: pid, pin: pins.Add(1), pidfd: os.NewFile(uintptr(fd), "pidfd:"+strconv.Itoa(pid))}
	fields, err := statFields(pid)
	if err == nil {
		err = p.signal(0)
	}
	if err == nil {
		var gone bool
		if gone, err = p.exited(); err == nil && gone {
			err = fmt.Errorf("pid %d has exited: %w", pid, ErrNotFound)
		}
	}
	var boot time.Time
	if err == nil {
		boot, err = bootTime()
	}
	var ticks, ppid uint64
	if err == nil {
		ticks, err = statUint(pid, fields, 22)
	}
	if err == nil {
		ppid, err = statUint(pid, fields, 4)
	}
	if err != nil {
		p.Release()
		return nil, err
	}
	p.start = boot.Add(time.Duration(ticks) * startTimeResolution)
	p.ppid = int(ppid)
	p.mainThreadOnly = mainThreadOnly(fields)
	return p, nil
}

// mainThreadOnly reports whether the fields of /proc/PID/stat (from
// field 3 on, as statFields returns them) show a process whose one thread
// is its main thread. A main thread that has exited while another thread
// runs shows as a zombie (state Z): its children then belong to that
// other thread.
func mainThreadOnly(fields []string) bool {
	const state, threads = 3, 20 // field numbers, as in proc(5)
	return len(fields) > threads-3 && fields[state-3] != "Z" && fields[threads-3] == "1"
}

// pins numbers the pidfds that Find opens, in order, so that IsChild can
// tell which of two processes was pinned first.
var pins atomic.Uint64

// linuxProcess is a process pinned by a pidfd. The pidfd lives in an
// *os.File, which closes it once and refuses it afterwards.
type linuxProcess struct {
	pid  int
	pin  uint64 // from pins, when the pidfd was opened
	ppid int    // the parent's PID, read with the start time
	// mainThreadOnly is whether the process had one thread, its main
	// one, when the start time was read.
	mainThreadOnly bool
	start          time.Time
	pidfd          *os.File

	mu   sync.Mutex
	held []int // the /proc files that Children keeps open (see hold)
}

func (p *linuxProcess) PID() int             { return p.pid }
func (p *linuxProcess) StartTime() time.Time { return p.start }
func (p *linuxProcess) Interrupt() error     { return p.signal(unix.SIGINT) }
func (p *linuxProcess) Kill() error          { return p.signal(unix.SIGKILL) }

// Release closes the pidfd and the files that Children kept open.
func (p *linuxProcess) Release() error {
	p.mu.Lock()
	fds := p.held
	p.held = nil
	p.mu.Unlock()
	for _, fd := range fds {
		unix.Close(fd)
	}
	held.Add(-int64(len(fds)))
	return p.pidfd.Close()
}

// CommandLine reads /proc/PID/cmdline, then checks that the pidfd still
// refers to a live process: a process is not reaped, and its PID not
// reused, while it lives, so the text read before was its own.
func (p *linuxProcess) CommandLine() ([]string, error) {
	b, err := readProc(p.pid, "cmdline")
	if err == nil {
		err = p.signal(0)
	}
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		// A zombie has released its memory, and a kernel thread never had
		// any. The pidfd polls readable once the process has exited.
		exited, err := p.exited()
		switch {
		case err != nil:
			return nil, err
		case exited:
			return nil, fmt.Errorf("pid %d has exited: %w", p.pid, ErrNotFound)
		}
		return nil, fmt.Errorf("pid %d has no command line (a kernel thread, or a process that is exiting)", p.pid)
	}
	return splitCmdline(b), nil
}

// signal sends sig through the pidfd, so it reaches this process even if
// its PID has since been reused.
func (p *linuxProcess) signal(sig unix.Signal) error {
	rc, err := p.pidfd.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.PidfdSendSignal(int(fd), sig, nil, 0)
	}); err != nil {
		return err
	}
	if errors.Is(serr, unix.ESRCH) {
		return notFound(p.pid)
	}
	if serr != nil {
		return fmt.Errorf("failed to send %s to pid %d: %w", signalName(sig), p.pid, serr)
	}
	return nil
}

// exited reports whether the process has exited, reaped or not.
func (p *linuxProcess) exited() (bool, error) {
	rc, err := p.pidfd.SyscallConn()
	if err != nil {
		return false, err
	}
	var n int
	var perr error
	if err := rc.Control(func(fd uintptr) { n, perr = pollIn(fd) }); err != nil {
		return false, err
	}
	if perr != nil {
		return false, fmt.Errorf("failed to poll the pidfd of pid %d: %w", p.pid, perr)
	}
	return n > 0, nil
}

// Wait waits for the pidfd to become readable, which the kernel signals when
// the process exits, whether or not it is our child.
func (p *linuxProcess) Wait(ctx context.Context) error {
	// A process that has already exited, as a killed one often has by
	// the time its death is confirmed, needs no poller.
	if gone, err := p.exited(); err != nil || gone {
		return err
	}
	// Each Wait polls its own non-blocking duplicate, registered with
	// Go's netpoller, so that concurrent Waits do not share a read
	// deadline.
	rc, err := p.pidfd.SyscallConn()
	if err != nil {
		return err
	}
	dup := -1
	var derr error
	if err := rc.Control(func(fd uintptr) {
		dup, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return err
	}
	if derr == nil {
		if derr = unix.SetNonblock(dup, true); derr != nil {
			unix.Close(dup)
		}
	}
	if derr != nil {
		return fmt.Errorf("failed to duplicate pidfd of pid %d: %w", p.pid, derr)
	}
	f := os.NewFile(uintptr(dup), "pidfd:"+strconv.Itoa(p.pid))
	defer f.Close()
	return waitReadable(ctx, f, func(fd uintptr) bool {
		n, err := pollIn(fd)
		return err == nil && n > 0
	})
}

// pollIn polls fd for POLLIN without blocking.
func pollIn(fd uintptr) (int, error) {
	for {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}

// list reads the command line of every process in /proc. A process that
// exits before its command line is read is left out.
func (SystemTable) list() ([]Entry, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("failed to open /proc: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("failed to read /proc: %w", err)
	}
	entries := make([]Entry, 0, len(names))
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 0 || strconv.Itoa(pid) != name {
			continue
		}
		b, err := readProc(pid, "cmdline")
		if errors.Is(err, ErrNotFound) {
			continue
		}
		var args []string
		if err == nil && len(b) > 0 {
			args = splitCmdline(b)
		}
		entries = append(entries, Entry{PID: pid, CommandLine: args})
	}
	return entries, nil
}

// parentPID returns field 4 of /proc/PID/stat.
func parentPID(pid int) (int, error) {
	fields, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	ppid, err := statUint(pid, fields, 4)
	if err != nil {
		return 0, err
	}
	return int(ppid), nil
}

// readProc reads /proc/PID/name. A process that exits while it is read
// makes the open fail with ENOENT or the read with ESRCH: both are
// ErrNotFound.
func readProc(pid int, name string) ([]byte, error) {
	path := "/proc/" + strconv.Itoa(pid) + "/" + name
	b, err := readSmallFile(path)
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ESRCH):
		return nil, notFound(pid)
	case err != nil:
		return nil, fmt.Errorf("failed to read %q: %w", path, err)
	}
	return b, nil
}

// readSmallFile reads a file of /proc with open, read and close alone:
// os.ReadFile would also stat it and try to register it with the netpoller,
// two more system calls for every file, and a stop reads several for every
// process it finds. Errors are *os.PathError, as os.ReadFile's are.
func readSmallFile(path string) ([]byte, error) {
	fd, err := openRead(path, 0)
	if err != nil {
		return nil, err
	}
	f := rawFile(fd)
	defer f.Close()
	return readAll(f, path)
}

// readAll reads f, opened at path, to its end.
func readAll(f rawFile, path string) ([]byte, error) {
	b := make([]byte, 0, 512)
	for {
		n, err := f.Read(b[len(b):cap(b)])
		switch {
		case err != nil:
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			return b, nil
		}
		b = b[:len(b)+n]
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// statFields reads /proc/PID/stat and returns its fields from field 3 on.
// The command name (field 2) may hold blanks and parentheses, so fields are
// counted from the last ')'.
func statFields(pid int) ([]string, error) {
	b, err := readProc(pid, "stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("failed to parse /proc/%d/stat: no command name", pid)
	}
	return strings.Fields(string(b[i+1:])), nil
}

// statUint parses field n (counted from 1, as in proc(5)) of the fields
// that statFields returned.
func statUint(pid int, fields []string, n int) (uint64, error) {
	if len(fields) <= n-3 {
		return 0, fmt.Errorf("failed to parse /proc/%d/stat: %d fields", pid, len(fields)+2)
	}
	v, err := strconv.ParseUint(fields[n-3], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("failed to parse field %d of /proc/%d/stat: %w", n, pid, err)
	}
	return v, nil
}

// splitCmdline splits the NUL-terminated arguments of /proc/PID/cmdline.
func splitCmdline(b []byte) []string {
	return strings.Split(string(bytes.TrimSuffix(b, []byte{0})), "\x00")
}

// bootTime is the wall-clock time of boot: CLOCK_REALTIME minus
// CLOCK_BOOTTIME, the clock of /proc/PID/stat start times. It is computed at
// each Find rather than once per caller: slewing moves both clocks alike,
// but a step of the wall clock (a suspended laptop syncing its time) moves
// boot, and a long-running caller would otherwise place every later start
// time off by the step. Two computations differ by the microseconds
// between the clock reads, far below a tick.
func bootTime() (time.Time, error) {
	var up unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &up); err != nil {
		return time.Time{}, fmt.Errorf("failed to read CLOCK_BOOTTIME: %w", err)
	}
	return time.Now().Round(0).Add(-time.Duration(up.Nano())), nil
}
