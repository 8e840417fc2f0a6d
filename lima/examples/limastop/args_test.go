// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    options
		wantErr string
	}{
		{name: "no name", want: options{names: []string{"default"}, policy: policyGraceful}},
		{name: "names", args: []string{"a", "b", "a"}, want: options{names: []string{"a", "b"}, policy: policyGraceful}},
		{name: "-f", args: []string{"-f", "a"}, want: options{names: []string{"a"}, policy: policyForcible}},
		{name: "flags after names", args: []string{"a", "-f", "b", "-timeout", "5s", "-v"},
			want: options{names: []string{"a", "b"}, policy: policyForcible, timeout: 5 * time.Second, verbose: true}},
		{name: "-f with -policy forcible", args: []string{"-f", "-policy", "forcible"}, want: options{names: []string{"default"}, policy: policyForcible}},
		{name: "-policy orphan", args: []string{"-policy=orphan", "a"}, want: options{names: []string{"a"}, policy: policyOrphan}},
		{name: "after --", args: []string{"a", "--", "b"}, want: options{names: []string{"a", "b"}, policy: policyGraceful}},
		{name: "-f with -policy graceful", args: []string{"-policy", "graceful", "-f"}, wantErr: "contradict"},
		{name: "unknown policy", args: []string{"-policy", "kill"}, wantErr: `unknown policy "kill"`},
		{name: "negative timeout", args: []string{"-timeout", "-1s"}, wantErr: "negative -timeout"},
		{name: "bad timeout", args: []string{"-timeout", "soon"}, wantErr: "invalid value"},
		{name: "invalid name", args: []string{"a/b"}, wantErr: "not a valid identifier"},
		{name: "name after -- that looks like a flag", args: []string{"--", "-f"}, wantErr: "not a valid identifier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(tt.args)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	_, err := parseArgs([]string{"-h"})
	assert.ErrorIs(t, err, flag.ErrHelp)
}
