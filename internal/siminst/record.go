// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Reason is why a simulated process ended by itself.
type Reason string

// The reasons a simulated process ends by itself.
const (
	// ReasonInterrupted: the host agent was interrupted and shut down.
	ReasonInterrupted Reason = "interrupted"
	// ReasonStdinClosed: the process's parent (the host agent, or for a
	// helper the helper before it) asked it to stop and closed its stdin.
	ReasonStdinClosed Reason = "stdin-closed"
	// ReasonLifetime: the process reached Options.Lifetime.
	ReasonLifetime Reason = "lifetime"
)

// Record is what a simulated process writes just before it exits by itself.
// A killed process writes none.
type Record struct {
	Role   Role   `json:"role"`
	PID    int    `json:"pid"`
	Reason Reason `json:"reason"`
	// Args are the process's arguments after the executable, as it saw
	// them in os.Args: the command line Start chose, as it arrived.
	Args []string `json:"args"`
	// Time is the process's own clock reading just before it exited.
	Time time.Time `json:"time"`
}

// recordFile is where the processes of instance name record their exits:
// in the Lima home, because stopping an instance may delete files in the
// instance directory, under a name that Lima's store does not take for an
// instance (a leading "_") and that no stop policy deletes (no .pid, .sock
// or .tmp suffix).
func recordFile(limaHome, name string) string {
	return filepath.Join(limaHome, "_siminst-"+name+".jsonl")
}

// appendJSONLine appends v as one JSON line in a single write, holding
// the file's append lock (see lockAppend), which keeps the lines of
// concurrently writing processes apart.
func appendJSONLine(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	unlock, err := lockAppend(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("failed to lock %q: %w", path, err)
	}
	_, err = f.Write(append(b, '\n'))
	return errors.Join(err, unlock(), f.Close())
}

// readRecords reads the records in path; a missing file holds none.
func readRecords(path string) ([]Record, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var recs []Record
	s := bufio.NewScanner(f)
	for s.Scan() {
		var rec Record
		if err := json.Unmarshal(s.Bytes(), &rec); err != nil {
			return recs, fmt.Errorf("failed to parse record %q in %q: %w", s.Text(), path, err)
		}
		recs = append(recs, rec)
	}
	return recs, s.Err()
}
