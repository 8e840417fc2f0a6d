// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// maxAncestors bounds the walk up the parent links, which PID reuse can
// turn into a cycle.
const maxAncestors = 256

// ancestors follows the parent PIDs of one process snapshot up from the
// caller. Windows neither reparents a process whose parent exits nor keeps
// the parent's PID from being reused, so a parent PID is trusted only if
// the process holding it now started no later than the child: a process
// that took over the PID started after the real parent exited, which is
// after the child was created. The walk ends at a parent that has exited,
// since the snapshot does not say who its own parent was.
func ancestors() ([]int, error) {
	parents, err := snapshot()
	if err != nil {
		return nil, err
	}
	// started bounds the start of the next ancestor: the start of the
	// nearest descendant whose start time is known.
	started, err := handleCreationTime(windows.CurrentProcess(), os.Getpid())
	if err != nil {
		return nil, err
	}
	var up []int
	for pid := uint32(os.Getpid()); len(up) < maxAncestors; {
		parent, ok := parents[pid]
		if !ok || parent == 0 {
			break
		}
		t, err := creationTime(parent)
		switch {
		case errors.Is(err, ErrNotFound):
			return up, nil
		case err != nil:
			// A parent that the caller may not even query, such as a
			// protected process, cannot be checked. It is refused (it
			// could not be signalled anyway) and the walk goes on with
			// its child's start as the bound, which may refuse a process
			// that is no ancestor: the safe side of the mistake.
		case t.After(started):
			return up, nil
		default:
			started = t
		}
		up = append(up, int(parent))
		pid = parent
	}
	return up, nil
}

// creationTime returns when the process with the given PID started.
func creationTime(pid uint32) (time.Time, error) {
	h, err := openProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, int(pid))
	if err != nil {
		return time.Time{}, err
	}
	defer windows.CloseHandle(h)
	return handleCreationTime(h, int(pid))
}

// handleCreationTime returns when the process of handle h, whose PID is
// pid, started.
func handleCreationTime(h windows.Handle, pid int) (time.Time, error) {
	var creation, exit, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &creation, &exit, &kernel, &user); err != nil {
		return time.Time{}, fmt.Errorf("failed to read the creation time of pid %d: %w", pid, err)
	}
	return time.Unix(0, creation.Nanoseconds()), nil
}

// snapshot maps the PID of every process to its parent's PID, as recorded
// when the process was created.
func snapshot() (map[uint32]uint32, error) {
	s, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return nil, fmt.Errorf("failed to snapshot the processes: %w", err)
	}
	defer windows.CloseHandle(s)
	parents := make(map[uint32]uint32)
	e := windows.ProcessEntry32{Size: uint32(unsafe.Sizeof(windows.ProcessEntry32{}))}
	for err = windows.Process32First(s, &e); err == nil; err = windows.Process32Next(s, &e) {
		parents[e.ProcessID] = e.ParentProcessID
	}
	if !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return nil, fmt.Errorf("failed to read the process snapshot: %w", err)
	}
	return parents, nil
}

// list reads the command line of every process in a snapshot, in PID
// order. The idle process (0) and the kernel (4) have none and are left
// out, and so are processes that exit meanwhile.
func (SystemTable) list() ([]Entry, error) {
	parents, err := snapshot()
	if err != nil {
		return nil, err
	}
	entries := make([]Entry, 0, len(parents))
	for _, pid := range slices.Sorted(maps.Keys(parents)) {
		if pid == 0 || pid == 4 {
			continue
		}
		e := Entry{PID: int(pid)}
		h, err := openProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION|windows.SYNCHRONIZE, int(pid))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err == nil {
			p := &windowsProcess{pid: int(pid), h: h}
			e.CommandLine, err = p.CommandLine()
			p.Release()
			if errors.Is(err, ErrNotFound) {
				continue
			}
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// openPIDFile opens path for ReadPIDFile without following a symbolic link
// or junction: the link itself is opened and refused, so that a pid file
// cannot be redirected to a file elsewhere. Opening fails with an
// *os.PathError, so that a missing file matches fs.ErrNotExist; the other
// errors leave naming the path to ReadPIDFile.
func openPIDFile(path string) (pidFile, error) {
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	// Backup semantics are what lets CreateFile open a directory, so that
	// one is refused with a clear reason rather than "access denied".
	h, err := windows.CreateFile(name, windows.GENERIC_READ,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, nil,
		windows.OPEN_EXISTING, windows.FILE_FLAG_OPEN_REPARSE_POINT|windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		// ERROR_FILE_NOT_FOUND and ERROR_PATH_NOT_FOUND match fs.ErrNotExist.
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var fi windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &fi); err != nil {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("failed to query the opened file: %w", err)
	}
	switch {
	case fi.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0:
		windows.CloseHandle(h)
		return nil, errors.New("a symbolic link, junction or other reparse point, not a regular file")
	case fi.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY != 0:
		windows.CloseHandle(h)
		return nil, errors.New("a directory, not a regular file")
	}
	return osPIDFile{os.NewFile(uintptr(h), path)}, nil
}

// osPIDFile is a pidFile kept in an *os.File.
type osPIDFile struct{ *os.File }

func (f osPIDFile) Stat() (fs.FileMode, time.Time, error) {
	fi, err := f.File.Stat()
	if err != nil {
		return 0, time.Time{}, err
	}
	return fi.Mode().Type(), fi.ModTime(), nil
}
