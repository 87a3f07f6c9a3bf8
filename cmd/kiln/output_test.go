package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kiln-build/kiln/exporter"
)

func TestParseOutput(t *testing.T) {
	for _, c := range []struct {
		spec    string
		want    output
		wantErr string
	}{
		{spec: "type=oci,dest=out.tar", want: output{typ: "oci", dest: "out.tar", tar: true}},
		{spec: "type=oci,dest=dir,tar=false", want: output{typ: "oci", dest: "dir"}},
		{spec: "type=docker,dest=d.tar,name=app", want: output{typ: "docker", dest: "d.tar", names: []string{"app:latest"}, tar: true}},
		{spec: "type=oci,dest=z.tar,compression=zstd,compression-level=3", want: output{typ: "oci", dest: "z.tar", tar: true, comp: exporter.Zstd, level: 3}},
		{spec: "type=image,name=r.example/app:1,push=true", want: output{typ: "image", names: []string{"r.example/app:1"}, push: true, tar: true}},
		{spec: "type=registry,name=r.example/app:1", want: output{typ: "image", names: []string{"r.example/app:1"}, push: true, tar: true}},
		{spec: "out", want: output{typ: "local", dest: "out", tar: true}},
		{spec: "-", want: output{typ: "tar", dest: "-", tar: true}},
		{spec: "type=local", wantErr: "needs dest=PATH"},
		{spec: "type=floppy,dest=a", wantErr: `unknown type "floppy"`},
		{spec: "dest=a", wantErr: "type is missing"},
		{spec: "type=oci,dest=a,compression=lzma", wantErr: "unknown compression"},
		{spec: "type=oci,dest=a,color=red", wantErr: `unknown key "color"`},
		{spec: "type=oci,dest=a,tar=maybe", wantErr: "tar:"},
		{spec: "type=image,name=UPPER", wantErr: "invalid reference"},
	} {
		t.Run(c.spec, func(t *testing.T) {
			got, err := parseOutput(c.spec)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.spec = ""
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
	if _, err := parseOutputs([]string{"type=nope"}); err == nil || !strings.HasPrefix(err.Error(), `--output "type=nope"`) {
		t.Errorf("parseOutputs: got %v, want an error naming --output", err)
	}
}

func TestSourceDateEpoch(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "100")
	for _, c := range []struct {
		args    map[string]string
		want    int64
		wantErr bool
	}{
		{args: nil, want: 100},
		{args: map[string]string{"SOURCE_DATE_EPOCH": "200"}, want: 200},
		{args: map[string]string{"SOURCE_DATE_EPOCH": "soon"}, wantErr: true},
		{args: map[string]string{"SOURCE_DATE_EPOCH": "-1"}, wantErr: true},
	} {
		got, err := sourceDateEpoch(c.args)
		if c.wantErr {
			if err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
				t.Errorf("%v: got %v, want an error naming SOURCE_DATE_EPOCH", c.args, err)
			}
			continue
		}
		if err != nil || got == nil || !got.Equal(time.Unix(c.want, 0)) {
			t.Errorf("%v: got %v, %v, want %d", c.args, got, err, c.want)
		}
	}
	t.Setenv("SOURCE_DATE_EPOCH", "")
	if got, err := sourceDateEpoch(nil); got != nil || err != nil {
		t.Errorf("unset: got %v, %v, want nil, nil", got, err)
	}
}
