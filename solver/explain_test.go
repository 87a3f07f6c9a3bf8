package solver

import (
	"strings"
	"testing"
)

func TestStepID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"[2/4] RUN make", "2"},
		{"[build 2/4] RUN make", "build 2"},
		{"[stage-1 10/12] COPY . /src", "stage-1 10"},
		{"[internal] FROM busybox", "internal"},
		{"context", "context"},
	} {
		if got := StepID(tc.in); got != tc.want {
			t.Errorf("StepID(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEnvDiff(t *testing.T) {
	tests := []struct {
		name      string
		prev, cur []string
		want      string
	}{
		{"same", []string{"A=1", "B=2"}, []string{"B=2", "A=1"}, ""},
		{"changed", []string{"V=1"}, []string{"V=2"}, `V changed to "2" (was "1")`},
		{"set", nil, []string{"V=x=y"}, `V set to "x=y" (was unset)`},
		{"unset", []string{"V=1", "PATH=/bin"}, []string{"PATH=/bin"}, `V unset (was "1")`},
		{"several, sorted", []string{"B=1"}, []string{"C=1", "A=1"}, `A set to "1" (was unset); C set to "1" (was unset); B unset (was "1")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(envDiff(tc.prev, tc.cur), "; "); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
