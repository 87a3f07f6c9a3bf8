package executor

import "testing"

// FuzzSeccompProfile parses fuzzed profiles; whatever parses must compile
// to a filter the kernel would accept: every jump lands inside the program
// and the last instruction returns.
func FuzzSeccompProfile(f *testing.F) {
	for _, seed := range []string{
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}`,
		`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]}]}`,
		`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"op":"SCMP_CMP_MASKED_EQ"},{"index":5,"value":1,"op":"SCMP_CMP_NE"}],"excludes":{"caps":["CAP_SYS_ADMIN"]}}]}`,
		`{"defaultAction":"SCMP_ACT_KILL_PROCESS","syscalls":[{"name":"read","action":"SCMP_ACT_LOG","includes":{"arches":["x86"],"minKernel":"4.8"}}]}`,
		`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[` +
			`{"index":0,"op":"SCMP_CMP_MASKED_EQ"},{"index":1,"op":"SCMP_CMP_MASKED_EQ"},{"index":2,"op":"SCMP_CMP_MASKED_EQ"},` +
			`{"index":3,"op":"SCMP_CMP_MASKED_EQ"},{"index":4,"op":"SCMP_CMP_MASKED_EQ"},{"index":5,"op":"SCMP_CMP_MASKED_EQ"}]}]}`,
		`{}`, `[]`, `{"defaultAction":"SCMP_ACT_TRAP","syscalls":[{"names":[],"action":""}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseSeccompProfile(data)
		if err != nil {
			return
		}
		for _, caps := range []capMask{0, 0xa80425fb, 1<<len(capNames) - 1} {
			prog, err := buildFilter(p, caps)
			if err != nil {
				continue // too big, or an architecture without seccomp
			}
			if last := prog[len(prog)-1]; last.Code != ret {
				t.Fatalf("last instruction %#v, want a return", last)
			}
			for pc, in := range prog {
				var targets []int
				switch in.Code {
				case jeq, jset:
					targets = []int{pc + 1 + int(in.Jt), pc + 1 + int(in.Jf)}
				case ja:
					targets = []int{pc + 1 + int(in.K)}
				case ldW:
					if in.K > 60 || in.K%4 != 0 {
						t.Fatalf("instruction %d loads offset %d, outside seccomp_data", pc, in.K)
					}
				case ret, and:
				default:
					t.Fatalf("instruction %d: unexpected code %#x", pc, in.Code)
				}
				for _, to := range targets {
					if to >= len(prog) {
						t.Fatalf("instruction %d jumps to %d, past the end (%d)", pc, to, len(prog))
					}
				}
			}
		}
	})
}
