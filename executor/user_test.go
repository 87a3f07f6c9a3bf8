//go:build linux

package executor

import (
	"errors"
	"strings"
	"testing"
)

func TestOverlayOptions(t *testing.T) {
	got, err := overlayOptions([]string{"/l/bottom", "/l/a,b", "/l/top"}, "/e", "/u", "/w")
	want := `lowerdir=/l/top:/l/a\,b:/l/bottom,upperdir=/u,workdir=/w,redirect_dir=off,metacopy=off`
	if err != nil || got != want {
		t.Errorf("got %q, %v, want %q", got, err, want)
	}
	if got, _ := overlayOptions(nil, "/e", "", ""); got != "lowerdir=/e" {
		t.Errorf("got %q, want the empty dir as the only layer", got)
	}
	many := make([]string, 200)
	for i := range many {
		many[i] = "/var/lib/kiln/layers/" + strings.Repeat("x", 64)
	}
	if _, err := overlayOptions(many, "/e", "/u", "/w"); !errors.Is(err, ErrTooManyLayers) {
		t.Errorf("got %v, want ErrTooManyLayers", err)
	}
}

func TestResolvConf(t *testing.T) {
	host := "search example.com\nnameserver 127.0.0.53\n"
	if got := resolvConf(host, true); got != host {
		t.Errorf("host network: got %q, want the host's file", got)
	}
	got := resolvConf(host, false)
	if strings.Contains(got, "127.0.0.53") || !strings.Contains(got, "nameserver 8.8.8.8") || !strings.Contains(got, "search example.com") {
		t.Errorf("got %q, want loopback dropped and a public fallback", got)
	}
}

func TestResolveChown(t *testing.T) {
	users := []passwdEntry{{name: "alice", uid: 1000, gid: 1000}}
	groups := []groupEntry{{name: "staff", gid: 50}}
	for _, tc := range []struct {
		in       string
		uid, gid int
		err      error
	}{
		{"alice", 1000, 1000, nil},
		{"alice:staff", 1000, 50, nil},
		{"7", 7, 7, nil},
		{"7:8", 7, 8, nil},
		{"bob", 0, 0, ErrUnknownUser},
		{"alice:nope", 0, 0, ErrUnknownUser},
		{"alice:", 0, 0, ErrInvalidSpec},
	} {
		uid, gid, err := resolveChown(tc.in, users, groups)
		if !errors.Is(err, tc.err) || uid != tc.uid || gid != tc.gid {
			t.Errorf("%q: got %d:%d, %v, want %d:%d, %v", tc.in, uid, gid, err, tc.uid, tc.gid, tc.err)
		}
	}
}
