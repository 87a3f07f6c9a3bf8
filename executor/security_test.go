package executor

import (
	"errors"
	"testing"
)

func TestSecurityCaps(t *testing.T) {
	def := capMask(0xa80425fb) // Docker's default set, as /proc/self/status shows it
	all := capMask(1)<<len(capNames) - 1
	for _, tc := range []struct {
		name string
		sec  Security
		want capMask
	}{
		{"default", Security{}, def},
		{"add NET_ADMIN", Security{CapAdd: []string{"NET_ADMIN"}}, def | 1<<12},
		{"add cap_sys_admin lowercase", Security{CapAdd: []string{"cap_sys_admin"}}, def | 1<<21},
		{"drop CHOWN", Security{CapDrop: []string{"CHOWN"}}, def &^ 1},
		{"drop ALL add CHOWN", Security{CapDrop: []string{"ALL"}, CapAdd: []string{"CHOWN"}}, 1},
		{"drop ALL", Security{CapDrop: []string{"all"}}, 0},
		{"add ALL", Security{CapAdd: []string{"ALL"}}, all},
		{"add ALL drop MKNOD", Security{CapAdd: []string{"ALL"}, CapDrop: []string{"MKNOD"}}, all},
		{"privileged", Security{Privileged: true, CapDrop: []string{"ALL"}}, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.sec.caps()
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %#x (%s), want %#x (%s)", uint64(got), got, uint64(tc.want), tc.want)
			}
		})
	}
}

func TestSecurityCapsUnknown(t *testing.T) {
	err := (&Security{CapAdd: []string{"NET_ADMN"}}).Validate()
	if !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("got %v, want ErrInvalidSpec", err)
	}
	if want := `unknown capability "NET_ADMN" (did you mean NET_ADMIN?)`; !contains(err.Error(), want) {
		t.Errorf("got %q, want it to contain %q", err, want)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestParseSeccompProfile(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       string // "" for success, else a substring of the error
		rules      int
	}{
		{"names", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}`, "", 1},
		{"name (old format)", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"read","action":"SCMP_ACT_ALLOW"}]}`, "", 1},
		{"empty args ok", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_LOG","args":[]}]}`, "", 1},
		{"args", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["clone"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_MASKED_EQ"}]}]}`, "", 1},
		{"args greater than", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["clone"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_GT"}]}]}`, `argument comparison "SCMP_CMP_GT" is not supported`, 0},
		{"args index 6", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["clone"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}`, "argument index 6", 0},
		{"includes", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"],"arches":["amd64"],"minKernel":"4.8"}}]}`, "", 1},
		{"includes unknown cap", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMINN"]}}]}`, "did you mean SYS_ADMIN?", 0},
		{"includes bad minKernel", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"new"}}]}`, `kernel version "new"`, 0},
		{"excludes minKernel", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mount"],"action":"SCMP_ACT_ALLOW","excludes":{"minKernel":"4.8"}}]}`, "minKernel is not supported", 0},
		{"bad default", `{"defaultAction":"SCMP_ACT_NOTIFY"}`, `unsupported action "SCMP_ACT_NOTIFY"`, 0},
		{"no default", `{}`, "no action", 0},
		{"no names", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ALLOW"}]}`, "no names", 0},
		{"not json", `defaultAction: allow`, "seccomp profile", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseSeccompProfile([]byte(tc.json))
			if tc.want != "" {
				if err == nil || !contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalidSpec) {
					t.Fatalf("got error %v, want one containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Rules) != tc.rules {
				t.Errorf("got %d rules, want %d", len(p.Rules), tc.rules)
			}
		})
	}
}
