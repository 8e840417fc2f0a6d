// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package wsl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// State is the state of a distro as wsl.exe --list --verbose prints it.
// wsl.exe prints these words untranslated in every locale; a word this
// package does not know is kept as it is.
type State string

// The states wsl.exe prints, and NotFound.
const (
	Running      State = "Running"
	Stopped      State = "Stopped"
	Installing   State = "Installing"
	Uninstalling State = "Uninstalling"
	Converting   State = "Converting"
	Exporting    State = "Exporting"
	// NotFound is not printed by wsl.exe: DistroState returns it for a
	// distro that is not registered.
	NotFound State = "NotFound"
)

// Distro is one row of wsl.exe --list --verbose.
type Distro struct {
	Name    string
	State   State
	Version int  // 1 or 2
	Default bool // marked with "*": the default distro
}

// DistroName returns the name of the WSL distro of the Lima instance
// named instance.
func DistroName(instance string) string { return "lima-" + instance }

// List returns the registered distros, from wsl.exe --list --verbose. No
// registered distro is an empty list, not an error, although wsl.exe
// reports it as a failure with a message in the user's language: List
// recognizes the English message and the error code older versions add,
// and otherwise asks wsl.exe --list --quiet, which prints nothing and
// succeeds when there is no distro.
func List(ctx context.Context, ex Executor) ([]Distro, error) {
	out, err := ex.Run(ctx, "--list", "--verbose")
	if err != nil {
		if !exited(err) || !noDistros(ctx, ex, err) {
			return nil, fmt.Errorf("failed to list WSL distros: %w", err)
		}
		return nil, nil
	}
	ds, err := parseList(out)
	if err != nil {
		return nil, fmt.Errorf("failed to list WSL distros: %w", err)
	}
	return ds, nil
}

// DistroState returns the state of the distro called name, or NotFound if
// there is none. WSL compares distro names case-insensitively, and so does
// DistroState.
func DistroState(ctx context.Context, ex Executor, name string) (State, error) {
	ds, err := List(ctx, ex)
	if err != nil {
		return "", err
	}
	for _, d := range ds {
		if strings.EqualFold(d.Name, name) {
			return d.State, nil
		}
	}
	return NotFound, nil
}

// Terminate stops the distro with wsl.exe --terminate. A distro that is
// already stopped or does not exist is success. When wsl.exe exits with a
// failure, Terminate decides by the distro's state rather than by the
// message, which is in the user's language: Stopped or NotFound is
// success. A wsl.exe that could not start, timed out or was cut short is
// not asked again, and the error wraps the cause, such as
// context.DeadlineExceeded.
//
// Terminate does not release the distro's ext4.vhdx if another process
// holds it: only Shutdown does.
func Terminate(ctx context.Context, ex Executor, distro string) error {
	if distro == "" {
		return errors.New("failed to terminate WSL distro: empty name")
	}
	_, err := ex.Run(ctx, "--terminate", distro)
	if err == nil {
		return nil
	}
	if !exited(err) {
		return fmt.Errorf("failed to terminate WSL distro %q: %w", distro, err)
	}
	state, serr := DistroState(ctx, ex, distro)
	switch {
	case serr != nil:
		return fmt.Errorf("failed to terminate WSL distro %q: %w", distro, errors.Join(err, serr))
	case state == Stopped || state == NotFound:
		return nil
	}
	return fmt.Errorf("failed to terminate WSL distro %q, which is %s: %w", distro, state, err)
}

// Shutdown stops every distro and the WSL 2 utility VM with wsl.exe
// --shutdown. It is the only way to release an ext4.vhdx that WSL keeps
// locked after its distro stopped, and it stops the distros of every other
// user of WSL on the machine too, so no stop policy uses it by default.
func Shutdown(ctx context.Context, ex Executor) error {
	if _, err := ex.Run(ctx, "--shutdown"); err != nil {
		return fmt.Errorf("failed to shut down WSL: %w", err)
	}
	return nil
}

// Backoff bounds for WaitStopped: wsl.exe offers no event to wait for.
const (
	firstPoll = 50 * time.Millisecond
	maxPoll   = 500 * time.Millisecond
)

// WaitStopped returns nil once the distro is Stopped or NotFound, polling
// wsl.exe --list --verbose with a backoff from 50 ms to 500 ms. It returns
// an error wrapping ctx.Err() if ctx ends first, and the first error from
// wsl.exe otherwise.
func WaitStopped(ctx context.Context, ex Executor, distro string) error {
	delay := firstPoll
	for {
		state, err := DistroState(ctx, ex, distro)
		if err != nil {
			return fmt.Errorf("failed to wait for WSL distro %q to stop: %w", distro, err)
		}
		if state == Stopped || state == NotFound {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("WSL distro %q is still %s: %w", distro, state, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, maxPoll)
	}
}

// exited reports whether err says that wsl.exe ran and exited by itself,
// so that its view of the distros can be trusted.
func exited(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.ExitCode != -1
}

// noDistros reports whether the failure err of wsl.exe --list --verbose
// means that no distro is registered.
func noDistros(ctx context.Context, ex Executor, err error) bool {
	var e *Error
	if errors.As(err, &e) && (strings.Contains(e.Output, "WSL_E_DEFAULT_DISTRO_NOT_FOUND") ||
		strings.Contains(e.Output, "has no installed distributions")) {
		return true
	}
	out, err := ex.Run(ctx, "--list", "--quiet")
	return err == nil && strings.TrimSpace(strings.ReplaceAll(out, "\x00", "")) == ""
}

// parseList parses the output of wsl.exe --list --verbose: a header line,
// whose words it ignores so that a translated one does no harm, then one line
// per distro:
//
//	  NAME            STATE           VERSION
//	* Ubuntu          Running         2
//	  lima-default    Stopped         2
//
// Lines are split into fields, not columns, so widths do not matter; WSL
// does not allow blanks in distro names. A line after the header that does
// not parse is an error: skipping it could hide a running distro.
func parseList(out string) ([]Distro, error) {
	var ds []Distro
	header := true
	for line := range strings.Lines(out) {
		f := strings.Fields(strings.ReplaceAll(line, "\x00", ""))
		if len(f) == 0 {
			continue
		}
		if header {
			header = false
			continue
		}
		d := Distro{Default: f[0] == "*"}
		if d.Default {
			f = f[1:]
		}
		if len(f) < 3 {
			return nil, unexpectedLine(line)
		}
		version, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			return nil, unexpectedLine(line)
		}
		d.Name, d.State, d.Version = f[0], State(strings.Join(f[1:len(f)-1], " ")), version
		ds = append(ds, d)
	}
	return ds, nil
}

func unexpectedLine(line string) error {
	return fmt.Errorf("unexpected line %q in the output of wsl.exe --list --verbose", strings.TrimSpace(line))
}
