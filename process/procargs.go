// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// parseProcArgs2 parses the result of macOS's KERN_PROCARGS2 sysctl: argc as
// a 32-bit integer, the executable's path and its NUL terminator, NUL
// padding, then argc NUL-terminated arguments (the environment follows and
// is ignored). It lives in a portable file so that it is tested and fuzzed
// on every OS.
//
// The padding cannot be told apart from an empty first argument, which is
// therefore lost; later empty arguments are kept.
func parseProcArgs2(b []byte) ([]string, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("procargs2 of %d bytes has no argument count", len(b))
	}
	// Every macOS architecture is little-endian.
	argc := int64(int32(binary.LittleEndian.Uint32(b)))
	rest := b[4:]
	end := bytes.IndexByte(rest, 0)
	if end < 0 {
		return nil, errors.New("procargs2 has no terminated executable path")
	}
	rest = bytes.TrimLeft(rest[end:], "\x00")
	switch {
	case argc <= 0:
		return nil, fmt.Errorf("procargs2 has %d arguments", argc)
	case argc > int64(len(rest)):
		// Each argument takes at least its terminator: refusing here keeps
		// a corrupt count from sizing an allocation.
		return nil, fmt.Errorf("procargs2 claims %d arguments in %d bytes", argc, len(rest))
	}
	args := make([]string, 0, argc)
	for range argc {
		end := bytes.IndexByte(rest, 0)
		if end < 0 {
			return nil, fmt.Errorf("procargs2 ends within argument %d of %d", len(args)+1, argc)
		}
		args = append(args, string(rest[:end]))
		rest = rest[end+1:]
	}
	return args, nil
}
