package dockerfile

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestPlatform(t *testing.T) {
	cases := []struct {
		platform string
		want     error // nil: accepted
	}{
		{"linux/" + runtime.GOARCH, nil},
		{"$BUILDPLATFORM", nil},
		{"${TARGETPLATFORM}", nil},
		{"$TARGETOS/$TARGETARCH", nil},
		{"Linux/" + strings.ToUpper(runtime.GOARCH), nil},
		{"windows/" + runtime.GOARCH, ErrNotSupported},
		{"linux/not-an-arch", ErrNotSupported},
		{"linux", ErrSyntax},
		{"linux/", ErrSyntax},
		{"a/b/c/d", ErrSyntax},
	}
	for _, c := range cases {
		t.Run(c.platform, func(t *testing.T) {
			df := "FROM --platform=" + c.platform + " scratch\n"
			_, err := Convert(context.Background(), []byte(df), Options{})
			switch {
			case c.want == nil && err != nil:
				t.Fatalf("got %v, want no error", err)
			case c.want != nil && !errors.Is(err, c.want):
				t.Fatalf("got %v, want an error matching %v", err, c.want)
			}
		})
	}
}

func TestValidSignal(t *testing.T) {
	for s, want := range map[string]bool{
		"SIGTERM": true, "TERM": true, "sigkill": true, "9": true, "64": true, "SIGRTMIN+3": true,
		"RTMAX-14": true, "0": false, "65": false, "SIGNOPE": false, "": false, "-1": false, "RTMIN+16": false,
	} {
		if got := validSignal(s); got != want {
			t.Errorf("validSignal(%q): got %v, want %v", s, got, want)
		}
	}
}

func TestParseMountDefaults(t *testing.T) {
	lookup := func(k string) (string, bool) { return map[string]string{"T": "/t"}[k], k == "T" }
	cases := []struct {
		in   string
		want mountSpec
	}{
		{"target=/x", mountSpec{typ: "bind", target: "/x", readOnly: true}},
		{"type=bind,target=$T,rw", mountSpec{typ: "bind", target: "/t", roSet: true}},
		{"type=cache,dst=/c", mountSpec{typ: "cache", target: "/c"}},
		{"type=cache,destination=/c,ro=true,sharing=PRIVATE", mountSpec{typ: "cache", target: "/c", readOnly: true, roSet: true, sharing: "private"}},
		{"type=tmpfs,target=/t,size=1k", mountSpec{typ: "tmpfs", target: "/t", size: 1024}},
		{`type=secret,"src=a,b"`, mountSpec{}}, // a quoted whole field is not CSV here: an error, below
		{"type=secret,src=tok", mountSpec{typ: "secret", id: "tok", readOnly: true}},
		{"TYPE=secret,ID=x,required=false", mountSpec{typ: "secret", id: "x", readOnly: true}},
		{`type=bind,target="/a,b"`, mountSpec{typ: "bind", target: "/a,b", readOnly: true}},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := parseMount(c.in, '\\', lookup)
			if c.want.typ == "" {
				if err == nil {
					t.Fatalf("got %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want %+v", err, c.want)
			}
			if !reflect.DeepEqual(*got, c.want) {
				t.Fatalf("got %+v, want %+v", *got, c.want)
			}
		})
	}
}

// The config JSON has Docker's shape: the extra fields beside the OCI ones
// inside "config", and no second "config".
func TestImageJSON(t *testing.T) {
	img := Image{Image: ocispec.Image{Author: "a"}}
	img.Config.Env = []string{"A=1"}
	img.Config.Shell = []string{"/bin/bash", "-c"}
	img.Config.Healthcheck = &HealthConfig{Test: []string{"NONE"}}
	b, err := json.Marshal(img)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"author":"a","architecture":"","os":"","config":{"Env":["A=1"],"Healthcheck":{"Test":["NONE"]},"Shell":["/bin/bash","-c"]},"rootfs":{"type":"","diff_ids":null}}`
	if got := string(b); !sameJSON(t, got, want) {
		t.Fatalf("got %s, want %s", got, want)
	}
	var back Image
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, img) {
		t.Fatalf("round trip: got %+v, want %+v", back, img)
	}
	if got := img.OCI().Config.Env; !reflect.DeepEqual(got, img.Config.Env) {
		t.Fatalf("OCI().Config.Env: got %v, want %v", got, img.Config.Env)
	}
}

func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}
