// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

var _ MemoryReaper = (*linuxProcess)(nil)

// ReapMemory calls process_mrelease on the pidfd, so it reaches this
// process even if its PID has since been reused.
func (p *linuxProcess) ReapMemory() error {
	rc, err := p.pidfd.SyscallConn()
	if err != nil {
		return err
	}
	var errno unix.Errno
	if err := rc.Control(func(fd uintptr) {
		for {
			_, _, errno = unix.Syscall(unix.SYS_PROCESS_MRELEASE, fd, 0, 0)
			if errno != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	switch {
	case errno == 0:
		return nil
	case errno == unix.ESRCH:
		return notFound(p.pid)
	case errno == unix.EINVAL:
		return fmt.Errorf("pid %d: %w, or shares its memory with one that is not; its memory was not reaped", p.pid, ErrNotDying)
	case errno == unix.ENOSYS:
		return fmt.Errorf("reaping the memory of pid %d needs Linux 5.15 or later: %w", p.pid, errors.ErrUnsupported)
	}
	return fmt.Errorf("failed to reap the memory of pid %d: %w", p.pid, errno)
}
