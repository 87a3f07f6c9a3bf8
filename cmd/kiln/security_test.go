package main

import (
	"io/fs"
	"strings"
	"testing"
)

func TestSecurityFlags(t *testing.T) {
	files := map[string]string{
		"ok.json":   `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}`,
		"args.json": `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"op":"SCMP_CMP_LT"}]}]}`,
	}
	read := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	for _, tc := range []struct {
		name    string
		f       securityFlags
		wantErr string
		check   func(t *testing.T, f securityFlags)
	}{
		{name: "none", f: securityFlags{}},
		{name: "no-new-privileges", f: securityFlags{opts: []string{"no-new-privileges"}}},
		{name: "no-new-privileges=true", f: securityFlags{opts: []string{"no-new-privileges=true"}}},
		{name: "no-new-privileges:true (old spelling)", f: securityFlags{opts: []string{"no-new-privileges:true"}}},
		{name: "no-new-privileges=maybe", f: securityFlags{opts: []string{"no-new-privileges=maybe"}}, wantErr: "want no-new-privileges"},
		{name: "seccomp=unconfined", f: securityFlags{opts: []string{"seccomp=unconfined"}}},
		{name: "seccomp profile", f: securityFlags{opts: []string{"seccomp=ok.json"}}},
		{name: "seccomp profile with args", f: securityFlags{opts: []string{"seccomp=args.json"}}, wantErr: "SCMP_CMP_LT"},
		{name: "seccomp profile missing", f: securityFlags{opts: []string{"seccomp=nope.json"}}, wantErr: "nope.json"},
		{name: "seccomp empty", f: securityFlags{opts: []string{"seccomp="}}, wantErr: "want seccomp=unconfined"},
		{name: "apparmor", f: securityFlags{opts: []string{"apparmor=unconfined"}}, wantErr: `unknown option "apparmor"`},
		{name: "cap typo", f: securityFlags{capAdd: []string{"SYS_ADMN"}}, wantErr: "did you mean SYS_ADMIN?"},
		{name: "caps", f: securityFlags{capAdd: []string{"ALL"}, capDrop: []string{"cap_mknod"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.f.security(read)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			nnp := false
			for _, o := range tc.f.opts {
				nnp = nnp || strings.HasPrefix(o, "no-new-privileges")
			}
			if s.NoNewPrivileges != nnp {
				t.Errorf("NoNewPrivileges: got %v, want %v", s.NoNewPrivileges, nnp)
			}
			if got, want := s.SeccompUnconfined, len(tc.f.opts) == 1 && tc.f.opts[0] == "seccomp=unconfined"; got != want {
				t.Errorf("SeccompUnconfined: got %v, want %v", got, want)
			}
			if got, want := s.Seccomp != nil, len(tc.f.opts) == 1 && tc.f.opts[0] == "seccomp=ok.json"; got != want {
				t.Errorf("Seccomp profile set: got %v, want %v", got, want)
			}
		})
	}
}
