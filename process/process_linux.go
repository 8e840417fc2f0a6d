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
	"sync"
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
func (SystemTable) find(pid int) (Process, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		switch {
		case errors.Is(err, unix.ESRCH):
			return nil, fmt.Errorf("pid %d: %w", pid, ErrNotFound)
		case errors.Is(err, unix.ENOSYS):
			// Without a pidfd a PID cannot be pinned, so nothing is
			// signalled: pidfd_open needs Linux 5.3.
			return nil, fmt.Errorf("failed to open pidfd for pid %d (Linux 5.3 or later is required): %w", pid, errors.ErrUnsupported)
		}
		return nil, fmt.Errorf("failed to open pidfd for pid %d: %w", pid, err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("failed to set pidfd of pid %d non-blocking: %w", pid, err)
	}
	p := &linuxProcess{pid: pid, pidfd: os.NewFile(uintptr(fd), "pidfd:"+strconv.Itoa(pid))}
	ticks, err := startTicks(pid)
	if err == nil {
		err = p.signal(0)
	}
	if err != nil {
		p.Release()
		return nil, err
	}
	p.start = bootTime().Add(time.Duration(ticks) * startTimeResolution)
	return p, nil
}

// linuxProcess is a process pinned by a pidfd. The pidfd lives in an
// *os.File so that Go's netpoller can wait on it.
type linuxProcess struct {
	pid   int
	start time.Time
	pidfd *os.File
}

func (p *linuxProcess) PID() int             { return p.pid }
func (p *linuxProcess) StartTime() time.Time { return p.start }
func (p *linuxProcess) Interrupt() error     { return p.signal(unix.SIGINT) }
func (p *linuxProcess) Kill() error          { return p.signal(unix.SIGKILL) }
func (p *linuxProcess) Release() error       { return p.pidfd.Close() }

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
		return fmt.Errorf("pid %d: %w", p.pid, ErrNotFound)
	}
	if serr != nil {
		return fmt.Errorf("failed to send %s to pid %d: %w", unix.SignalName(sig), p.pid, serr)
	}
	return nil
}

// Wait waits for the pidfd to become readable, which the kernel signals when
// the process exits, whether or not it is our child.
func (p *linuxProcess) Wait(ctx context.Context) error {
	// Each Wait polls its own duplicate so that concurrent Waits do not
	// share a read deadline.
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
	if derr != nil {
		return fmt.Errorf("failed to duplicate pidfd of pid %d: %w", p.pid, derr)
	}
	f := os.NewFile(uintptr(dup), "pidfd:"+strconv.Itoa(p.pid))
	defer f.Close()
	return waitReadable(ctx, f, func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		return err == nil && n > 0
	})
}

// startTicks returns field 22 of /proc/PID/stat: the start time in clock
// ticks since boot.
func startTicks(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("pid %d: %w", pid, ErrNotFound)
		}
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses, so
	// fields are counted from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("failed to parse /proc/%d/stat: no command name", pid)
	}
	fields := bytes.Fields(b[i+1:])
	const startField = 22 - 3 // fields after ')' start at field 3
	if len(fields) <= startField {
		return 0, fmt.Errorf("failed to parse /proc/%d/stat: %d fields", pid, len(fields)+2)
	}
	ticks, err := strconv.ParseUint(string(fields[startField]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("failed to parse /proc/%d/stat start time: %w", pid, err)
	}
	return ticks, nil
}

// bootTime is the wall-clock time of boot: CLOCK_REALTIME minus
// CLOCK_BOOTTIME, the clock of /proc/PID/stat start times. Slewing moves
// both clocks alike, so the difference changes only when the wall clock is
// stepped; it is computed once so that StartTime is stable, since two
// computations differ by the microseconds between the two clock reads.
var bootTime = sync.OnceValue(func() time.Time {
	var boot unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot)
	return time.Now().Round(0).Add(-time.Duration(boot.Nano()))
})
