package container

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestVolumeStore(t *testing.T) {
	vs, err := OpenVolumes(filepath.Join(t.TempDir(), "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	v, created, err := vs.Create("v1", false)
	if err != nil || !created || v.Name != "v1" || v.Driver != "local" {
		t.Fatalf("Create(v1): got %+v, %v, %v", v, created, err)
	}
	if empty, err := v.IsEmpty(); err != nil || !empty {
		t.Fatalf("IsEmpty of a new volume: got %v, %v; want true", empty, err)
	}
	if err := os.WriteFile(filepath.Join(v.Mountpoint, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if empty, _ := v.IsEmpty(); empty {
		t.Fatalf("IsEmpty with a file: got true")
	}
	again, created, err := vs.Create("v1", true)
	if err != nil || created || again.Anonymous {
		t.Fatalf("Create(v1) again: got %+v, %v, %v; want the existing volume", again, created, err)
	}
	anon, _, err := vs.Create("", true)
	if err != nil || len(anon.Name) != 64 || !anon.Anonymous {
		t.Fatalf("Create(\"\"): got %+v, %v", anon, err)
	}
	all, err := vs.List()
	if err != nil || len(all) != 2 {
		t.Fatalf("List: got %d volumes, %v; want 2", len(all), err)
	}
	for _, bad := range []string{"x", "_x", "a/b", "..", "a b"} {
		if _, _, err := vs.Create(bad, false); !errors.Is(err, ErrInvalidVolumeName) {
			t.Errorf("Create(%q): got %v, want ErrInvalidVolumeName", bad, err)
		}
	}
	if err := vs.Remove("v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := vs.Get("v1"); !errors.Is(err, ErrVolumeNotFound) {
		t.Fatalf("Get after Remove: got %v, want ErrVolumeNotFound", err)
	}
	if err := vs.Remove("v1"); !errors.Is(err, ErrVolumeNotFound) {
		t.Fatalf("Remove twice: got %v, want ErrVolumeNotFound", err)
	}
}

func TestUsedBy(t *testing.T) {
	all := []*Container{
		{Config: Config{Name: "a", Mounts: []Mount{{Type: MountVolume, Source: "v", Target: "/v"}}}},
		{Config: Config{Name: "b", Mounts: []Mount{{Type: MountBind, Source: "v", Target: "/v"}}}},
	}
	if got := UsedBy(all, "v"); len(got) != 1 || got[0] != "a" {
		t.Fatalf("UsedBy: got %q, want [a]", got)
	}
}
