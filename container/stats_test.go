package container

import (
	"os"
	"path/filepath"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "stats", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseNetDev(t *testing.T) {
	for _, tc := range []struct {
		file string
		want NetStats
	}{
		{"netdev-none", NetStats{}},
		// lo left out; eth0, eth1 and the idle ifb0 summed.
		{"netdev-eth", NetStats{RxBytes: 110795914 + 1200, TxBytes: 669931 + 648}},
		// Old kernels put no space after the colon.
		{"netdev-nospace", NetStats{RxBytes: 1 << 32, TxBytes: 99}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := parseNetDev(readTestdata(t, tc.file))
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v, want %+v", got, err, tc.want)
			}
		})
	}
	for _, file := range []string{"bad/netdev-short", "bad/netdev-notanumber"} {
		t.Run(file, func(t *testing.T) {
			if got, err := parseNetDev(readTestdata(t, file)); err == nil {
				t.Errorf("got %+v, want an error", got)
			}
		})
	}
}

func TestParseBlkioV1(t *testing.T) {
	for _, tc := range []struct {
		file        string
		read, write uint64
		ok          bool
	}{
		// Read and Write over both devices; Sync, Async and Total not
		// added again.
		{"blkio-throttle", 1459200 + 4096, 20971520, true},
		{"blkio-empty", 0, 0, false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r, w, ok := parseBlkioV1(readTestdata(t, tc.file))
			if r != tc.read || w != tc.write || ok != tc.ok {
				t.Errorf("got %d, %d, %v, want %d, %d, %v", r, w, ok, tc.read, tc.write, tc.ok)
			}
		})
	}
}

// seedStats adds every file of testdata/stats and testdata/stats/bad.
func seedStats(f *testing.F) {
	for _, dir := range []string{".", "bad"} {
		ents, err := os.ReadDir(filepath.Join("testdata", "stats", dir))
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range ents {
			if !e.IsDir() {
				f.Add(readTestdata(f, filepath.Join(dir, e.Name())))
			}
		}
	}
}

func FuzzParseNetDev(f *testing.F) {
	seedStats(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseNetDev(b)
		if err != nil && st != (NetStats{}) {
			t.Fatalf("%q: got %+v with error %v", b, st, err)
		}
	})
}

func FuzzParseBlkio(f *testing.F) {
	seedStats(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, w, ok := parseBlkioV1(b); !ok && (r != 0 || w != 0) {
			t.Fatalf("%q: no device, but %d / %d", b, r, w)
		}
	})
}
