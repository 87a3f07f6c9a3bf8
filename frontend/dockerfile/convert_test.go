package dockerfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/llb"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fakeResolver knows busybox and, through ResolveConfig, "onbuild-base":
// busybox with ONBUILD triggers, a HEALTHCHECK and a SHELL in its config.
type fakeResolver struct{}

func (r fakeResolver) ResolveConfig(ctx context.Context, ref string) (digest.Digest, Image, error) {
	if ref != "onbuild-base" {
		dgst, img, err := r.ResolveImage(ctx, ref)
		return dgst, Image{Image: img, Config: ImageConfig{ImageConfig: img.Config}}, err
	}
	_, oci, _ := r.ResolveImage(ctx, "busybox")
	img := Image{Image: oci, Config: ImageConfig{ImageConfig: oci.Config}}
	img.Image.Config = ocispec.ImageConfig{}
	img.Config.OnBuild = []string{"ARG GREETING=hello", "RUN echo $GREETING > /greeting", "COPY --from=busybox /bin/busybox /copied"}
	img.Config.Healthcheck = &HealthConfig{Test: []string{"CMD-SHELL", "true"}}
	img.Config.Shell = []string{"/bin/ash", "-c"}
	return digest.FromString("onbuild-base manifest"), img, nil
}

func (fakeResolver) ResolveImage(_ context.Context, ref string) (digest.Digest, ocispec.Image, error) {
	if ref != "busybox" && ref != "busybox:latest" {
		return "", ocispec.Image{}, fmt.Errorf("%s: %w", ref, ErrImageNotFound)
	}
	img := ocispec.Image{
		Platform: ocispec.Platform{Architecture: "testarch", OS: "linux"},
		Config: ocispec.ImageConfig{
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd: []string{"sh"},
		},
		RootFS:  ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromString("busybox layer")}},
		History: []ocispec.History{{CreatedBy: "BUSYBOX_VERSION=1.36.1 /bin/sh -c #(nop) ADD file:busybox in / "}},
	}
	return digest.FromString("busybox manifest"), img, nil
}

// caseOptions is a case's optional options.json.
type caseOptions struct {
	Target    string            `json:"target"`
	BuildArgs map[string]string `json:"buildArgs"`
	Excludes  []string          `json:"excludes"`
	Network   string            `json:"network"`
}

func loadCase(t testing.TB, dir string) ([]byte, Options) {
	t.Helper()
	df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{File: "Dockerfile", Resolver: fakeResolver{}}
	if b, err := os.ReadFile(filepath.Join(dir, "options.json")); err == nil {
		var co caseOptions
		if err := json.Unmarshal(b, &co); err != nil {
			t.Fatalf("%s/options.json: %v", dir, err)
		}
		opt.Target, opt.BuildArgs, opt.Excludes, opt.Network = co.Target, co.BuildArgs, co.Excludes, co.Network
	}
	return df, opt
}

// golden compares got with dir/name, or rewrites it under -update.
func golden(t *testing.T, dir, name string, got []byte) {
	t.Helper()
	file := filepath.Join(dir, name)
	if *update {
		if len(got) == 0 {
			os.Remove(file)
			return
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got\n%s\nwant\n%s", file, got, want)
	}
}

func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, df := range dirs {
		dir := filepath.Dir(df)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			dockerfile, opt := loadCase(t, dir)
			res, err := Convert(context.Background(), dockerfile, opt)
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			var dump bytes.Buffer
			if res.Root != nil {
				if err := llb.Dump(&dump, res.Root); err != nil {
					t.Fatal(err)
				}
			}
			golden(t, dir, "llb.txt", dump.Bytes())
			img := res.Config
			if !reflect.DeepEqual(res.Image, img.OCI()) {
				t.Errorf("got Result.Image %+v, want Config.OCI() %+v", res.Image, img.OCI())
			}
			// Stages from scratch take the host's architecture.
			if img.Architecture == runtime.GOARCH {
				img.Architecture = "GOARCH"
			}
			b, err := json.MarshalIndent(struct {
				Stage string `json:"stage"`
				Image Image  `json:"image"`
			}{res.Stage, img}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, dir, "image.json", append(b, '\n'))
			var warnings []byte
			if len(res.Warnings) > 0 {
				warnings = []byte(strings.Join(res.Warnings, "\n") + "\n")
			}
			golden(t, dir, "warnings.txt", warnings)
		})
	}
}

func TestBad(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "bad", "*", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, df := range dirs {
		dir := filepath.Dir(df)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			dockerfile, opt := loadCase(t, dir)
			res, err := Convert(context.Background(), dockerfile, opt)
			if err == nil {
				t.Fatalf("Convert: got stage %q and no error, want an error", res.Stage)
			}
			var fe *Error
			if !errors.As(err, &fe) {
				t.Errorf("got error %T, want *Error", err)
			}
			golden(t, dir, "error.txt", []byte(err.Error()+"\n"))
		})
	}
}

func TestErrorsMatchSentinels(t *testing.T) {
	cases := []struct {
		dockerfile string
		opt        Options
		want       error
	}{
		{"FROM scratch\nADD --keep-git-dir a /", Options{}, ErrNotSupported},
		{"FROM scratch\nRUN --mount=type=ssh true", Options{}, ErrNotSupported},
		{"FROM scratch\nCOPY <<EOF a.txt /x/\nhi\nEOF", Options{}, ErrNotSupported},
		{"FROM --platform=linux/s390x scratch\n", Options{}, ErrNotSupported},
		{"FROM scratch\nRUN --mount=type=nope true", Options{}, ErrSyntax},
		{"FROM scratch\nADD --checksum=md5:x http://h/f /", Options{}, ErrSyntax},
		{"FROM scratch\nONBUILD ONBUILD RUN x", Options{}, ErrSyntax},
		{"FORM scratch", Options{}, ErrUnknownInstruction},
		{"FROM scratch\nCOPY --form=a b /", Options{}, ErrUnknownFlag},
		{"FROM scratch\nCOPY --from=nope a /", Options{Resolver: fakeResolver{}}, ErrUnknownStage},
		{"FROM scratch\nCOPY --from=nope a /", Options{Resolver: fakeResolver{}}, ErrImageNotFound},
		{"FROM scratch AS a", Options{Target: "b"}, ErrUnknownStage},
		{"FROM a AS a", Options{}, ErrStageOrder},
		{"RUN true", Options{}, ErrNoStage},
		{"FROM scratch\nCOPY a", Options{}, ErrSyntax},
	}
	for _, c := range cases {
		t.Run(c.dockerfile, func(t *testing.T) {
			_, err := Convert(context.Background(), []byte(c.dockerfile), c.opt)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want an error matching %v", err, c.want)
			}
		})
	}
}

func TestUnusedStagesAreNotResolved(t *testing.T) {
	df := "FROM nope AS unused\nRUN x\nFROM busybox\nRUN y\n"
	res, err := Convert(context.Background(), []byte(df), Options{Resolver: fakeResolver{}})
	if err != nil {
		t.Fatalf("got %v, want no error: the unused stage's image is never resolved", err)
	}
	var kinds []string
	llb.Walk([]*llb.Vertex{res.Root}, func(v *llb.Vertex) error { kinds = append(kinds, v.Op.Kind()); return nil })
	if got, want := strings.Join(kinds, ","), "source,exec"; got != want {
		t.Fatalf("got vertices %s, want %s", got, want)
	}
}

func TestSharedBaseIsNotMutated(t *testing.T) {
	df := "FROM busybox AS base\nENV A=1\nFROM base AS a\nENV B=2\nLABEL x=y\nFROM base\nENV C=3\n"
	res, err := Convert(context.Background(), []byte(df), Options{Resolver: fakeResolver{}})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(res.Image.Config.Env, " ")
	if strings.Contains(got, "B=2") || !strings.Contains(got, "A=1") || !strings.Contains(got, "C=3") {
		t.Fatalf("got Env %s, want A=1 and C=3 without B=2", got)
	}
	if res.Image.Config.Labels != nil {
		t.Fatalf("got labels %v, want none", res.Image.Config.Labels)
	}
}

func FuzzConvert(f *testing.F) {
	for _, pattern := range []string{"testdata/*/Dockerfile", "testdata/bad/*/Dockerfile"} {
		files, _ := filepath.Glob(pattern)
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, dockerfile []byte) {
		res, err := Convert(context.Background(), dockerfile, Options{
			Resolver:  fakeResolver{},
			BuildArgs: map[string]string{"A": "1"},
		})
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("got error %T %v, want *Error", err, err)
			}
			return
		}
		if res.Root != nil {
			if err := llb.Dump(&bytes.Buffer{}, res.Root); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := json.Marshal(res.Config); err != nil {
			t.Fatalf("marshal config: %v", err)
		}
		if !reflect.DeepEqual(res.Image, res.Config.OCI()) {
			t.Fatalf("got Result.Image %+v, want Config.OCI()", res.Image)
		}
	})
}
