package executor

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMountOrder(t *testing.T) {
	ms := []Mount{{Target: "/a/b/c"}, {Target: "/a"}, {Target: "/x/y"}, {Target: "/b"}}
	got := mountOrder(ms)
	want := []int{1, 3, 2, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestValidateMounts(t *testing.T) {
	tests := []struct {
		name string
		m    Mount
		ok   bool
	}{
		{"bind", Mount{Type: MountBind, Target: "/x"}, true},
		{"relative target", Mount{Type: MountBind, Target: "x"}, false},
		{"unknown type", Mount{Type: "ssh", Target: "/x"}, false},
		{"cache without dir", Mount{Type: MountCache, Target: "/x"}, false},
		{"negative tmpfs", Mount{Type: MountTmpfs, Target: "/x", Size: -1}, false},
		{"bad mode", Mount{Type: MountSecret, Target: "/x", Mode: 0o10000}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateMounts([]Mount{tt.m})
			if (err == nil) != tt.ok {
				t.Errorf("got %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("got %v, want ErrInvalidSpec", err)
			}
		})
	}
}

// TestRunMounts runs one container per mount kind and checks what the
// process sees, what the host keeps, and that the layer stays clean.
func TestRunMounts(t *testing.T) {
	base := busybox(t)
	// An escape attempt in the image: /evil points out of the rootfs.
	outside := t.TempDir()
	evil := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(evil, "evil")); err != nil {
		t.Fatal(err)
	}
	type tcase struct {
		name   string
		mounts func(t *testing.T) []Mount
		script string
		want   string
		check  func(t *testing.T)
	}
	ctxDir := t.TempDir()
	write(t, filepath.Join(ctxDir, "src/a.txt"), "context a\n")
	write(t, filepath.Join(ctxDir, "src/secret.env"), "TOKEN=1\n")
	if err := os.Symlink("/", filepath.Join(ctxDir, "src/root")); err != nil {
		t.Fatal(err)
	}
	l1, l2 := t.TempDir(), t.TempDir()
	write(t, filepath.Join(l1, "d/one"), "one\n")
	write(t, filepath.Join(l2, "d/two"), "two\n")
	cacheDir := t.TempDir()

	tests := []tcase{
		{
			name: "bind read-only from a host dir",
			mounts: func(*testing.T) []Mount {
				return []Mount{{Type: MountBind, Target: "/src", Source: ctxDir, Path: "src", ReadOnly: true}}
			},
			script: "cat /src/a.txt; echo x > /src/new 2>/dev/null && echo WRITABLE; true",
			want:   "context a\n",
		},
		{
			name: "bind writable writes are thrown away",
			mounts: func(*testing.T) []Mount {
				return []Mount{{Type: MountBind, Target: "/src", Source: ctxDir, Path: "src"}}
			},
			script: "echo new > /src/new && cat /src/new && rm /src/a.txt && ls /src",
			want:   "new\nnew\nroot\nsecret.env\n",
			check: func(t *testing.T) {
				if _, err := os.Stat(filepath.Join(ctxDir, "src/new")); err == nil {
					t.Errorf("got src/new in the host dir, want the write thrown away")
				}
				if _, err := os.Stat(filepath.Join(ctxDir, "src/a.txt")); err != nil {
					t.Errorf("got %v, want src/a.txt kept in the host dir", err)
				}
			},
		},
		{
			name: "bind hides excluded files",
			mounts: func(*testing.T) []Mount {
				return []Mount{{Type: MountBind, Target: "/src", Source: ctxDir, Path: "src", ReadOnly: true, Excludes: []string{"**/*.env"}}}
			},
			script: "ls /src",
			want:   "a.txt\nroot\n",
		},
		{
			name: "bind source symlink stays inside the source",
			mounts: func(*testing.T) []Mount {
				return []Mount{{Type: MountBind, Target: "/m", Source: ctxDir, Path: "src/root/src", ReadOnly: true}}
			},
			script: "cat /m/a.txt",
			want:   "context a\n",
		},
		{
			name: "bind from a layer stack",
			mounts: func(*testing.T) []Mount {
				return []Mount{{Type: MountBind, Target: "/layers", Lower: []string{l1, l2}, Path: "d", ReadOnly: true}}
			},
			script: "ls /layers",
			want:   "one\ntwo\n",
		},
		{
			name: "bind a single file",
			mounts: func(*testing.T) []Mount {
				return []Mount{{Type: MountBind, Target: "/etc/a.txt", Source: ctxDir, Path: "src/a.txt", ReadOnly: true}}
			},
			script: "cat /etc/a.txt",
			want:   "context a\n",
		},
		{
			name: "symlinked target stays inside the rootfs",
			mounts: func(*testing.T) []Mount {
				return []Mount{{Type: MountTmpfs, Target: "/evil/x"}}
			},
			script: "echo hi > /evil/x/f && cat /evil/x/f",
			want:   "hi\n",
			check: func(t *testing.T) {
				if names, _ := readDirNames(outside); len(names) != 0 {
					t.Errorf("got %v outside the rootfs, want nothing", names)
				}
			},
		},
		{
			name:   "cache keeps writes",
			mounts: func(*testing.T) []Mount { return []Mount{{Type: MountCache, Target: "/cache", Source: cacheDir}} },
			script: "echo 1 >> /cache/count; wc -l < /cache/count",
			want:   "1\n",
			check: func(t *testing.T) {
				b, err := os.ReadFile(filepath.Join(cacheDir, "count"))
				if err != nil || string(b) != "1\n" {
					t.Errorf("got %q, %v in the cache dir, want %q", b, err, "1\n")
				}
			},
		},
		{
			name:   "tmpfs",
			mounts: func(*testing.T) []Mount { return []Mount{{Type: MountTmpfs, Target: "/tmp/t", Size: 1 << 20}} },
			script: "grep ' /tmp/t ' /proc/mounts | cut -d' ' -f3; echo x > /tmp/t/f",
			want:   "tmpfs\n",
		},
		{
			name: "secret",
			mounts: func(*testing.T) []Mount {
				return []Mount{{Type: MountSecret, Target: "/run/secrets/tok", Data: []byte("s3cr3t"), UID: 1000}}
			},
			script: "cat /run/secrets/tok; echo; stat -c '%a %u' /run/secrets/tok; echo x > /run/secrets/tok 2>/dev/null && echo WRITABLE; true",
			want:   "s3cr3t\n400 1000\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lower := []string{base}
			if strings.Contains(tt.name, "symlinked") {
				lower = append(lower, evil)
			}
			rfs := rootfs(t, lower...)
			got := mustRun(t, Spec{Rootfs: rfs, Args: sh(tt.script), Mounts: tt.mounts(t)})
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if e := upperEntries(t, rfs.Upper); len(e) != 0 {
				t.Errorf("got %v in the upper dir, want nothing", e)
			}
			if tt.check != nil {
				tt.check(t)
			}
		})
	}
}

func TestRunMountErrors(t *testing.T) {
	base := busybox(t)
	ctxDir := t.TempDir()
	tests := []struct {
		name string
		m    Mount
		want error
	}{
		{"missing bind source", Mount{Type: MountBind, Target: "/x", Source: ctxDir, Path: "nope", ReadOnly: true}, ErrNotFound},
		{"unknown type", Mount{Type: "ssh", Target: "/x"}, ErrInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rfs := rootfs(t, base)
			_, err := run(t, Spec{Rootfs: rfs, Args: sh("true"), Mounts: []Mount{tt.m}})
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			if e := upperEntries(t, rfs.Upper); len(e) != 0 {
				t.Errorf("got %v in the upper dir, want nothing", e)
			}
		})
	}
}

// A mount inside a directory of the image that is not there yet, and one on
// a file the image has: the stubs go, the image's files stay.
func TestRunMountStubsInExistingDirs(t *testing.T) {
	base := busybox(t)
	rfs := rootfs(t, base)
	got := mustRun(t, Spec{Rootfs: rfs, Args: sh("cat /etc/passwd; ls -d /run/secrets/a"), Mounts: []Mount{
		{Type: MountSecret, Target: "/etc/passwd", Data: []byte("p\n")},
		{Type: MountSecret, Target: "/run/secrets/a", Data: []byte("a")},
	}})
	if got != "p\n/run/secrets/a\n" {
		t.Errorf("got %q, want %q", got, "p\n/run/secrets/a\n")
	}
	if e := upperEntries(t, rfs.Upper); len(e) != 0 {
		t.Errorf("got %v in the upper dir, want nothing", e)
	}
	if b, _ := os.ReadFile(filepath.Join(base, "etc/passwd")); !strings.HasPrefix(string(b), "root:") {
		t.Errorf("got /etc/passwd %q in the image, want it unchanged", b)
	}
}
