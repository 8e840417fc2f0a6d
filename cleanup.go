// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/limastop/stop/internal/fsutil"
	"github.com/limastop/stop/process"
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

// ErrInstanceRunning means a pid file of the instance names a running
// process that the stop did not end (a wrong VMType, a process this module
// does not know, or an instance restarted meanwhile): nothing of the
// instance was unlocked or removed.
var ErrInstanceRunning = errors.New("a process of the instance is still running")

// staleness is what the clean-up knows about the pid files: the PIDs whose
// deaths this stop confirmed and those proven strangers.
type staleness struct {
	dead, strangers map[int]bool
}

func newStaleness(ts targets, dead []*target) staleness {
	st := staleness{dead: map[int]bool{}, strangers: map[int]bool{}}
	for _, t := range dead {
		st.dead[t.p.PID()] = true
	}
	for _, t := range ts {
		if t.stranger {
			st.strangers[t.claim.pid] = true
		}
	}
	return st
}

// staleFiles are what checkPIDFiles found in the instance directory: the
// names of the files with a stale suffix, and the pid files among them with
// the PIDs they named (0 for garbage whose process was found otherwise).
type staleFiles struct {
	names []string
	pids  map[string]int
}

// checkPIDFiles checks that every pid file in the instance directory is
// stale: it names a process whose death this stop confirmed, a proven
// stranger, or no running process. It returns what it found, for removal;
// a pid file that is garbage and not a target's resolved one, or that
// names any other running process, fails the check.
func (r *run) checkPIDFiles(ts targets, st staleness) (staleFiles, error) {
	names, err := r.listStale()
	if err != nil {
		return staleFiles{}, err
	}
	resolved := map[string]bool{}
	for _, t := range ts {
		if t.pidFile != "" && t.bad == nil {
			resolved[t.pidFile] = true
		}
	}
	pids := map[string]int{}
	var errs []error
	for _, name := range names {
		if filepath.Ext(name) != ".pid" {
			continue
		}
		path := filepath.Join(r.inst.Dir, name)
		pid, written, err := process.ReadPIDFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil && resolved[path]:
			// A garbage pid file whose process was found by its
			// command line, and is dead now.
			pids[path] = 0
			continue
		case err != nil:
			errs = append(errs, err)
			continue
		}
		if !st.dead[pid] && !st.strangers[pid] {
			if err := r.checkNotRunning(path, claim{pid: pid, written: written}); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		pids[path] = pid
	}
	if len(errs) > 0 {
		return staleFiles{}, errors.Join(errs...)
	}
	return staleFiles{names: names, pids: pids}, nil
}

// checkNotRunning checks that the process the pid file at path claims is
// no process of the instance.
func (r *run) checkNotRunning(path string, c claim) error {
	p, err := r.table.Find(c.pid)
	switch {
	case errors.Is(err, process.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("pid file %q: %w", path, err)
	}
	defer p.Release()
	if v := r.identify(&target{role: "process", pidFile: path}, c, p); v.id == NotOurs {
		return nil
	}
	return fmt.Errorf("%w: %s names pid %d (%s), which this stop did not end; check the instance's VMType, "+
		"or whether it was restarted", ErrInstanceRunning, path, c.pid, executable(p))
}

// listStale lists the files in the instance directory whose names end in
// one of StaleFileSuffixes. It lists the directory rather than globbing, so
// a path holding glob metacharacters such as [ ] * ? works.
func (r *run) listStale() ([]string, error) {
	entries, err := os.ReadDir(r.inst.Dir)
	if err != nil {
		return nil, fmt.Errorf("failed to list %q: %w", r.inst.Dir, err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && hasStaleSuffix(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// removeStale removes the sockets and temporary files that the check
// found, then its pid files, each only if it still names the PID it named
// when checked, and ha.pid last: Lima's host agent does not start while
// ha.pid exists, so until then no restart can slip in and lose its files.
// A file that appeared since the check is left: nothing is known of it.
func (r *run) removeStale(checked staleFiles) error {
	names, pids := checked.names, checked.pids
	var errs []error
	remove := func(path string) {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	// A restart since the check has rewritten a pid file: then the
	// sockets are the new run's too, and nothing goes.
	for path, want := range pids {
		if !unchanged(path, want) {
			return fmt.Errorf("%w: %s changed during the clean-up; nothing was removed", ErrInstanceRunning, path)
		}
	}
	for _, name := range names {
		if filepath.Ext(name) != ".pid" {
			remove(filepath.Join(r.inst.Dir, name))
		}
	}
	haPID := filepath.Join(r.inst.Dir, "ha.pid")
	for _, path := range removalOrder(pids, haPID) {
		if path == haPID && len(errs) > 0 {
			continue
		}
		if unchanged(path, pids[path]) {
			remove(path)
		} else {
			errs = append(errs, fmt.Errorf("%w: %s changed during the clean-up and was kept", ErrInstanceRunning, path))
		}
	}
	return errors.Join(errs...)
}

// removalOrder returns the pid files of pids in the order they are removed:
// by name, ha.pid last.
func removalOrder(pids map[string]int, haPID string) []string {
	order := slices.Sorted(maps.Keys(pids))
	if i := slices.Index(order, haPID); i >= 0 {
		order = append(slices.Delete(order, i, i+1), haPID)
	}
	return order
}

// unchanged reports whether the pid file at path is gone or still holds
// what a check found in it: pid, or garbage where pid is 0.
func unchanged(path string, pid int) bool {
	got, _, err := process.ReadPIDFile(path)
	return errors.Is(err, fs.ErrNotExist) || (err != nil && pid == 0) || (err == nil && got == pid)
}

func hasStaleSuffix(name string) bool {
	for _, s := range StaleFileSuffixes() {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}
