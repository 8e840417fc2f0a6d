// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// lockFileName is the file in the instance directory that stops lock on
// Windows, where a directory cannot be locked. It is created on first use
// and never removed: removing it would let two stops lock two different
// files. Its name has none of StaleFileSuffixes.
const lockFileName = "limastop.lock"

// lockDir locks lockFileName with LockFileEx, a lock Windows drops when
// the holder's handle closes, on exit or death. A lock file, unlike a
// named mutex, is seen across sessions (a service and a user's program).
func lockDir(ctx context.Context, dir string) (func(), error) {
	path := filepath.Join(dir, lockFileName)
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	h, err := windows.CreateFile(name, windows.GENERIC_READ|windows.GENERIC_WRITE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_ALWAYS,
		windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return nil, fmt.Errorf("failed to open the lock file %q: %w", path, err)
	}
	err = retryLock(ctx, func() (bool, error) {
		ol := new(windows.Overlapped)
		err := windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, windows.ERROR_LOCK_VIOLATION), errors.Is(err, windows.ERROR_IO_PENDING):
			return false, nil
		}
		return false, fmt.Errorf("failed to lock %q: %w", path, err)
	})
	if err != nil {
		windows.CloseHandle(h)
		return nil, err
	}
	return func() { windows.CloseHandle(h) }, nil
}
