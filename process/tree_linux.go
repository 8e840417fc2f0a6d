// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

var (
	_ Parent        = (*linuxProcess)(nil)
	_ ChildVerifier = (*linuxProcess)(nil)
	_ GroupKiller   = (*linuxProcess)(nil)
)

// Children reads /proc/PID/task/*/children, the kernel's own list of each
// thread's children, which costs a fraction of a millisecond where a scan
// of /proc costs tens; kernels built without it get the scan. For a
// process that had only its main thread when Find read its start time, as
// a shell or ssh has, it reads that thread's list alone, sparing the
// listing of the task directory: a thread started since then, and the
// children it forked, are missed as a child forked just after the listing
// would be. The files read stay open until Release (see hold).
func (p *linuxProcess) Children() ([]int, error) {
	var pids []int
	var err error
	if p.mainThreadOnly {
		pids, err = p.threadChildren(unix.AT_FDCWD, "/proc/"+strconv.Itoa(p.pid)+"/task/"+strconv.Itoa(p.pid))
		if err != nil {
			// A process that has exited has no children file; a
			// kernel without the files gets the scan below.
			if gone, perr := p.exited(); perr != nil || gone {
				return nil, p.goneErr(perr)
			}
			if !errors.Is(err, fs.ErrNotExist) {
				err = fmt.Errorf("failed to read the children of pid %d: %w", p.pid, err)
			}
		}
	} else {
		pids, err = p.taskChildren()
	}
	if errors.Is(err, fs.ErrNotExist) {
		pids, err = scanChildren(p.pid)
	}
	if err != nil {
		return nil, err
	}
	if gone, err := p.exited(); err != nil || gone {
		return nil, p.goneErr(err)
	}
	return pids, nil
}

// IsChild compares the parent PID that Find read for c, with c's start
// time and checked through c's pidfd, with p's PID. p's pidfd was opened
// before c's and p is alive after that read, so p held its PID throughout:
// the parent then was p, not an earlier holder of the PID.
func (p *linuxProcess) IsChild(c Process) (bool, error) {
	lc, ok := c.(*linuxProcess)
	if !ok || lc.pin <= p.pin || lc.ppid != p.pid {
		return false, nil
	}
	if gone, err := p.exited(); err != nil || gone {
		return false, p.goneErr(err)
	}
	return true, nil
}

func (p *linuxProcess) goneErr(err error) error {
	if err != nil {
		return err
	}
	return notFound(p.pid)
}

// taskChildren returns the children listed by every thread of p; an error
// wrapping fs.ErrNotExist means the kernel has no such file. Each thread's
// file is opened relative to the task directory, which spares the kernel a
// walk from /proc for every thread.
func (p *linuxProcess) taskChildren() ([]int, error) {
	dir := "/proc/" + strconv.Itoa(p.pid) + "/task"
	dfd, err := openRead(dir, unix.O_DIRECTORY)
	var tasks []string
	if err == nil {
		defer unix.Close(dfd)
		tasks, err = dirNames(dfd)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			return nil, notFound(p.pid)
		}
		return nil, fmt.Errorf("failed to list %q: %w", dir, err)
	}
	var pids []int
	for _, task := range tasks {
		kids, err := p.threadChildren(dfd, task)
		switch {
		case errors.Is(err, fs.ErrNotExist) && task == strconv.Itoa(p.pid):
			return nil, err // no CONFIG_PROC_CHILDREN
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, unix.ESRCH):
			continue // the thread has exited
		case err != nil:
			return nil, fmt.Errorf("failed to read the children of pid %d: %w", p.pid, err)
		}
		pids = append(pids, kids...)
	}
	return pids, nil
}

// threadChildren reads the children file of the thread directory task,
// relative to dirfd, and keeps it open (see hold).
func (p *linuxProcess) threadChildren(dirfd int, task string) ([]int, error) {
	path := task + "/children"
	fd, err := openReadAt(dirfd, path, 0)
	if err != nil {
		return nil, err
	}
	b, err := readAll(rawFile(fd), path)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	p.hold(fd)
	var pids []int
	for _, f := range bytes.Fields(b) {
		if c, err := strconv.Atoi(string(f)); err == nil {
			pids = append(pids, c)
		}
	}
	return pids, nil
}

// maxHeld bounds how many files hold keeps open at once, across all
// processes.
const maxHeld = 256

// held counts the files that hold keeps open.
var held atomic.Int64

// hold keeps fd, a /proc file of p's that Children has read, open until p
// is released. The kernel builds a thread's entries in /proc on their first
// lookup and frees them when the thread exits, unless a file holds them:
// then it frees them at the close. A forced stop lists the children of
// every thread of the processes it then kills, and waits for their deaths;
// kept open, the entries are freed after it has confirmed them, not in the
// middle of the exits it waits for (BenchmarkReapAfterLook).
func (p *linuxProcess) hold(fd int) {
	if held.Add(1) > maxHeld {
		held.Add(-1)
		unix.Close(fd)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held = append(p.held, fd)
}

// dirNames returns the names in the directory open at fd, but . and ..
func dirNames(fd int) ([]string, error) {
	buf := make([]byte, 4096)
	var names []string
	for {
		n, err := unix.ReadDirent(fd, buf)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return nil, err
		case n <= 0:
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// scanChildren finds the children of pid by the parent PID in every
// /proc/N/stat.
func scanChildren(pid int) ([]int, error) {
	fd, err := openRead("/proc", unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	names, err := dirNames(fd)
	if err != nil {
		return nil, fmt.Errorf("failed to list /proc: %w", err)
	}
	var pids []int
	for _, name := range names {
		c, err := strconv.Atoi(name)
		if err != nil || strings.TrimLeft(name, "0123456789") != "" {
			continue
		}
		if ppid, err := parentPID(c); err == nil && ppid == pid {
			pids = append(pids, c)
		}
	}
	return pids, nil
}

// KillGroup checks through the pidfd that the process is alive both before
// and after reading its group ID, so the ID read is this process's (see
// killGroup).
func (p *linuxProcess) KillGroup() error {
	return killGroup(p.pid, func() error {
		if gone, err := p.exited(); err != nil || gone {
			return p.goneErr(err)
		}
		return nil
	})
}
