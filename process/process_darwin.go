// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// startTimeResolution is that of kinfo_proc's p_starttime, a timeval.
const startTimeResolution = time.Microsecond

// sZomb is SZOMB of XNU's sys/proc.h, the p_stat of a zombie.
const sZomb = 5

// Find records the process's start time. macOS has no pidfd, so pinning is
// best effort: every signal re-reads the start time first and refuses to
// signal a process that started at another time.
func (SystemTable) find(pid int) (Process, error) {
	start, err := darwinStartTime(pid)
	if err != nil {
		return nil, err
	}
	return &darwinProcess{pid: pid, start: start}, nil
}

type darwinProcess struct {
	pid   int
	start time.Time
}

func (p *darwinProcess) PID() int             { return p.pid }
func (p *darwinProcess) StartTime() time.Time { return p.start }
func (p *darwinProcess) Interrupt() error     { return p.signal(unix.SIGINT) }
func (p *darwinProcess) Kill() error          { return p.signal(unix.SIGKILL) }
func (p *darwinProcess) Release() error       { return nil }

// CommandLine reads the arguments with the KERN_PROCARGS2 sysctl, then
// re-reads the start time: if the PID was reused meanwhile, the arguments
// read may be the successor's.
func (p *darwinProcess) CommandLine() ([]string, error) {
	b, err := unix.SysctlRaw("kern.procargs2", p.pid)
	if cerr := p.check(); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		// A zombie has no arguments left; macOS also refuses another
		// user's process, with EINVAL.
		if kp, kerr := kinfoProc(p.pid); kerr == nil && kp.Proc.P_stat == sZomb {
			return nil, fmt.Errorf("pid %d has exited: %w", p.pid, ErrNotFound)
		}
		return nil, fmt.Errorf("failed to read the arguments of pid %d: %w", p.pid, err)
	}
	args, err := parseProcArgs2(b)
	if err != nil {
		return nil, fmt.Errorf("failed to parse the arguments of pid %d: %w", p.pid, err)
	}
	return args, nil
}

// check reports ErrNotFound unless the process holding the PID started when
// this one did.
func (p *darwinProcess) check() error {
	start, err := darwinStartTime(p.pid)
	if err != nil {
		return err
	}
	if !start.Equal(p.start) {
		return notFound(p.pid)
	}
	return nil
}

func (p *darwinProcess) signal(sig unix.Signal) error {
	if err := p.check(); err != nil {
		return err
	}
	if err := unix.Kill(p.pid, sig); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return notFound(p.pid)
		}
		return fmt.Errorf("failed to send %s to pid %d: %w", signalName(sig), p.pid, err)
	}
	return nil
}

// Wait registers NOTE_EXIT for the process on a kqueue and waits for the
// kqueue to become readable in Go's netpoller.
func (p *darwinProcess) Wait(ctx context.Context) error {
	kq, err := unix.Kqueue()
	if err != nil {
		return fmt.Errorf("failed to create kqueue: %w", err)
	}
	unix.CloseOnExec(kq)
	if err := unix.SetNonblock(kq, true); err != nil {
		unix.Close(kq)
		return fmt.Errorf("failed to set kqueue non-blocking: %w", err)
	}
	f := os.NewFile(uintptr(kq), "kqueue:"+strconv.Itoa(p.pid))
	defer f.Close()
	ev := unix.Kevent_t{Ident: uint64(p.pid), Filter: unix.EVFILT_PROC, Flags: unix.EV_ADD | unix.EV_ONESHOT, Fflags: unix.NOTE_EXIT}
	if _, err := unix.Kevent(kq, []unix.Kevent_t{ev}, nil, nil); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil // already gone
		}
		return fmt.Errorf("failed to watch pid %d: %w", p.pid, err)
	}
	// The PID may have been reused before NOTE_EXIT was registered.
	if start, err := darwinStartTime(p.pid); err != nil || !start.Equal(p.start) {
		return nil
	}
	return waitReadable(ctx, f, func(fd uintptr) bool {
		events := make([]unix.Kevent_t, 1)
		n, err := unix.Kevent(int(fd), nil, events, &unix.Timespec{})
		return err == nil && n > 0
	})
}

// list reads the PIDs with the kern.proc.all sysctl and each one's
// arguments with KERN_PROCARGS2; those of other users' processes cannot be
// read and are left nil.
func (SystemTable) list() ([]Entry, error) {
	kps, err := unix.SysctlKinfoProcSlice("kern.proc.all")
	if err != nil {
		return nil, fmt.Errorf("failed to list processes: %w", err)
	}
	entries := make([]Entry, 0, len(kps))
	for _, kp := range kps {
		pid := int(kp.Proc.P_pid)
		if pid <= 0 {
			continue
		}
		var args []string
		if b, err := unix.SysctlRaw("kern.procargs2", pid); err == nil {
			args, _ = parseProcArgs2(b)
		}
		entries = append(entries, Entry{PID: pid, CommandLine: args})
	}
	return entries, nil
}

func darwinStartTime(pid int) (time.Time, error) {
	kp, err := kinfoProc(pid)
	if err != nil {
		return time.Time{}, err
	}
	st := kp.Proc.P_starttime
	return time.Unix(int64(st.Sec), int64(st.Usec)*1000), nil
}

func parentPID(pid int) (int, error) {
	kp, err := kinfoProc(pid)
	if err != nil {
		return 0, err
	}
	return int(kp.Eproc.Ppid), nil
}

// kinfoProc reads the kernel's record of pid. For a PID that no process
// holds the sysctl returns no record, which x/sys reports as EIO.
func kinfoProc(pid int) (*unix.KinfoProc, error) {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil || kp.Proc.P_pid != int32(pid) {
		if kerr := unix.Kill(pid, 0); errors.Is(kerr, unix.ESRCH) || err == nil {
			return nil, notFound(pid)
		}
		return nil, fmt.Errorf("failed to read the process record of pid %d: %w", pid, err)
	}
	return kp, nil
}
