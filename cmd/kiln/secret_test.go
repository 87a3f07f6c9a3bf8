package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSecrets(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tok")
	if err := os.WriteFile(file, []byte("from-file"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TOKEN": "from-env", "tok2": "id-env"}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		flag    string
		id      string
		want    string
		wantErr string
	}{
		{flag: "id=a,src=" + file, id: "a", want: "from-file"},
		{flag: "id=a,source=" + file, id: "a", want: "from-file"},
		{flag: "id=a,type=file,src=" + file, id: "a", want: "from-file"},
		{flag: "id=a,env=TOKEN", id: "a", want: "from-env"},
		{flag: "id=TOKEN,type=env", id: "TOKEN", want: "from-env"},
		{flag: "id=tok2", id: "tok2", want: "id-env"},
		{flag: "id=a,src=" + filepath.Join(dir, "missing"), wantErr: "--secret id=a: read"},
		{flag: "id=a,env=NOPE", wantErr: "NOPE is not set"},
		{flag: "src=" + file, wantErr: "id= is required"},
		{flag: "id=a,bogus=1", wantErr: "unknown key"},
		{flag: "id=a,type=ssh", wantErr: "unknown type"},
		{flag: "id", wantErr: "not KEY=VALUE"},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			got, err := parseSecrets([]string{tt.flag}, getenv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got[tt.id]) != tt.want {
				t.Errorf("got %q, want %q", got[tt.id], tt.want)
			}
		})
	}
}
