// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseReadiness(t *testing.T) {
	hostAgent := readinessWant{driver: true, externalDriver: true, helpers: 2}
	tests := []struct {
		name    string
		line    string
		want    readinessWant
		ready   readiness // when no error is wanted
		wantErr string    // "" for none
	}{
		{name: "driver", line: "ready\n"},
		{name: "host agent, driver only", line: "ready driver=12\n", want: readinessWant{driver: true}, ready: readiness{driver: 12}},
		{name: "host agent, everything", line: "ready driver=12 external-driver=34 helpers=56,78\n", want: hostAgent,
			ready: readiness{driver: 12, externalDriver: 34, helpers: []int{56, 78}}},
		{name: "helper", line: "ready helpers=56\n", want: readinessWant{helpers: 1}, ready: readiness{helpers: []int{56}}},

		{name: "no newline", line: "ready", wantErr: "unexpected readiness line"},
		{name: "CRLF", line: "ready\r\n", wantErr: "unexpected readiness line"},
		{name: "not ready", line: "steady\n", wantErr: "unexpected readiness line"},
		{name: "empty", line: "\n", wantErr: "unexpected readiness line"},
		{name: "a field too many", line: "ready driver=12\n", wantErr: "want the fields"},
		{name: "a field missing", line: "ready driver=12 helpers=56,78\n", want: hostAgent, wantErr: "want the fields"},
		{name: "trailing space", line: "ready driver=12 \n", want: readinessWant{driver: true}, wantErr: "want the fields"},
		{name: "double space", line: "ready  driver=12\n", want: readinessWant{driver: true}, wantErr: "want the fields"},
		{name: "out of order", line: "ready external-driver=34 driver=12 helpers=56,78\n", want: hostAgent, wantErr: "field 1 is not driver="},
		{name: "zero", line: "ready driver=0\n", want: readinessWant{driver: true}, wantErr: "is not a PID"},
		{name: "negative", line: "ready driver=-1\n", want: readinessWant{driver: true}, wantErr: "is not a PID"},
		{name: "sign", line: "ready driver=+12\n", want: readinessWant{driver: true}, wantErr: "is not a PID"},
		{name: "leading zero", line: "ready driver=012\n", want: readinessWant{driver: true}, wantErr: "is not a PID"},
		{name: "too large", line: "ready driver=99999999999999999999\n", want: readinessWant{driver: true}, wantErr: "is not a PID"},
		{name: "empty helper", line: "ready helpers=56,,78\n", want: readinessWant{helpers: 3}, wantErr: "is not a PID"},
		{name: "too few helpers", line: "ready helpers=56\n", want: readinessWant{helpers: 2}, wantErr: "1 helpers, not 2"},
		{name: "too many helpers", line: "ready helpers=56,78\n", want: readinessWant{helpers: 1}, wantErr: "2 helpers, not 1"},
		{name: "a PID twice", line: "ready driver=12 external-driver=34 helpers=12,78\n", want: hostAgent, wantErr: "names a PID twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseReadiness(tt.line, tt.want)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.Equal(t, readiness{}, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.ready, got)
			assert.Equal(t, tt.line, got.String()+"\n", "round trip")
		})
	}
}
