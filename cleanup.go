// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/limastop/stop/internal/fsutil"
)

// StaleFileSuffixes returns the suffixes of the files a forced stop removes
// from the instance directory once every process is confirmed dead: pid
// files, sockets and temporary files. They equal Lima's
// filenames.TmpFileSuffixes.
func StaleFileSuffixes() []string { return []string{".pid", ".sock", ".tmp"} }

// DiskUnlocker unlocks a Lima disk that an instance held.
type DiskUnlocker interface {
	// Unlock releases disk if inst holds it. A disk that is not locked is
	// not an error; a disk that another instance holds must be left alone.
	Unlock(ctx context.Context, inst *Instance, disk string) error
}

// ErrDiskHeldElsewhere means a disk's lock names another instance than the
// one being stopped, so it was left locked.
var ErrDiskHeldElsewhere = errors.New("disk is locked by another instance")

// LimaDisks is the default DiskUnlocker. It follows Lima's layout: the lock
// is the symlink <LIMA_HOME>/_disks/<disk>/in_use_by pointing at the
// instance directory, LIMA_HOME being the parent of Instance.Dir. Unlike
// Lima's Disk.Unlock it removes the lock only when it points at this
// instance.
type LimaDisks struct{}

// Unlock removes the lock of disk if it names inst.
func (LimaDisks) Unlock(_ context.Context, inst *Instance, disk string) error {
	if disk == "" || disk != filepath.Base(disk) || disk == "." || disk == ".." || strings.ContainsAny(disk, `/\`) {
		return fmt.Errorf("invalid disk name %q", disk)
	}
	link := filepath.Join(filepath.Dir(inst.Dir), "_disks", disk, "in_use_by")
	holder, err := os.Readlink(link)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to read the lock of disk %q: %w", disk, err)
	}
	if !fsutil.SameDir(holder, inst.Dir) {
		return fmt.Errorf("%w: disk %q is held by %q", ErrDiskHeldElsewhere, disk, holder)
	}
	if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("failed to unlock disk %q: %w", disk, err)
	}
	return nil
}

// removeStaleFiles removes the files in dir whose names end in one of
// StaleFileSuffixes. It lists the directory rather than globbing, so a path
// holding glob metacharacters such as [ ] * ? works.
func removeStaleFiles(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("failed to list %q: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() || !hasStaleSuffix(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func hasStaleSuffix(name string) bool {
	for _, s := range StaleFileSuffixes() {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}
