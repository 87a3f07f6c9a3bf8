package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --explain says, for each step that ran, what changed since the last build
// of the same Dockerfile: the edited file, the build-arg, the instruction,
// the base image; or that there was no earlier build, or --no-cache.
func TestExplainRebuilds(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile":  "FROM busybox\nARG V=1\nCOPY deps /deps\nCOPY src /src\nRUN echo $V > /v\nRUN cat /src/app.go\n",
		"deps/lib.go": "lib\n",
		"src/app.go":  "one\n",
		"src/util.go": "util\n",
	})
	log, _ := build(t, root, dir, "--explain")
	if got := log.step(t, "COPY src").rebuilt; got != "no earlier build of this step" {
		t.Errorf("first build: COPY src: got REBUILT %q, want %q", got, "no earlier build of this step")
	}

	tests := []struct {
		name   string
		edit   func()
		args   []string
		step   string
		want   string // in the step's REBUILT line
		cached []string
	}{
		{
			name:   "edited file",
			edit:   func() { writeFiles(t, dir, map[string]string{"src/app.go": "two\n"}) },
			step:   "COPY src",
			want:   "src/app.go changed",
			cached: []string{"COPY deps"},
		},
		{
			name: "added and removed files",
			edit: func() {
				writeFiles(t, dir, map[string]string{"src/new.go": "new\n"})
				if err := os.Remove(filepath.Join(dir, "src", "util.go")); err != nil {
					t.Fatal(err)
				}
			},
			step: "COPY src",
			want: "src/new.go added, src/util.go removed",
		},
		{
			name:   "build-arg",
			args:   []string{"--build-arg", "V=2"},
			step:   "RUN echo $V",
			want:   `V changed to "2" (was "1")`,
			cached: []string{"COPY src", "COPY deps"},
		},
		{
			name: "parent rebuilt",
			args: []string{"--build-arg", "V=3"},
			step: "RUN cat /src/app.go",
			want: "previous step rebuilt: [4/5] RUN echo $V > /v",
		},
		{
			name: "instruction text",
			edit: func() {
				writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nARG V=1\nCOPY deps /deps\nCOPY src /src\nRUN echo $V > /v\nRUN cat /src/app.go /v\n"})
			},
			args: []string{"--build-arg", "V=3"},
			step: "RUN cat /src/app.go /v",
			want: `instruction changed (was "RUN cat /src/app.go")`,
		},
		{
			name: "no-cache",
			args: []string{"--no-cache", "--build-arg", "V=3"},
			step: "COPY deps",
			want: "--no-cache",
		},
		{
			name: "base image",
			edit: func() {
				other := newContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo other > /other\n"})
				mustKiln(t, root, "build", "-q", "-t", "busybox", other)
			},
			args: []string{"--build-arg", "V=3"},
			step: "COPY deps",
			want: "base image busybox changed",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.edit != nil {
				tc.edit()
			}
			log, _ := build(t, root, dir, append([]string{"--explain"}, tc.args...)...)
			s := log.step(t, tc.step)
			if !strings.Contains(s.rebuilt, tc.want) {
				t.Errorf("step %s: got REBUILT %q, want it to contain %q\n%s", tc.step, s.rebuilt, tc.want, log.text)
			}
			for _, c := range tc.cached {
				log.wantCached(t, c)
			}
			if !strings.Contains(log.text, "explain: steps not taken from the cache:") {
				t.Errorf("--explain: got no summary, want one\n%s", log.text)
			}
		})
	}
}

// The explanation is also in the quiet and default modes' summary, and a
// fully cached build says so.
func TestExplainAllCached(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo hi > /hi\n"})
	mustKiln(t, root, "build", "-q", dir)
	_, stderr := mustKiln(t, root, "build", "-q", "--explain", dir)
	if !strings.Contains(stderr, "every step was taken from the cache") {
		t.Errorf("--explain of a cached build: got stderr %q, want %q", stderr, "every step was taken from the cache")
	}
}
