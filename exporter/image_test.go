package exporter

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/kiln-build/kiln/cache"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func testLayer(content string, created time.Time, empty bool) cache.Layer {
	diffID := digest.FromString("diff " + content)
	return cache.Layer{
		ChainID: diffID,
		DiffID:  diffID,
		Blob: ocispec.Descriptor{
			MediaType: ocispec.MediaTypeImageLayerGzip,
			Digest:    digest.FromString("blob " + content),
			Size:      int64(len(content)),
		},
		Empty:   empty,
		Created: created,
	}
}

func tp(t time.Time) *time.Time { return &t }

func TestWriteImage(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	t2 := t0.Add(2 * time.Hour)
	base := testLayer("base", t0.Add(-time.Hour), false)
	run := testLayer("run", t1, true)
	cp := testLayer("copy", t2, false)
	extra := testLayer("extra", t2.Add(time.Hour), false)

	tests := []struct {
		name        string
		history     []ocispec.History
		created     *time.Time
		layers      []cache.Layer
		wantErr     error
		wantDiffIDs []digest.Digest
		wantBlobs   []digest.Digest
		wantHistory []ocispec.History
		wantCreated time.Time
	}{
		{
			name: "pairing, empty layer and timestamps",
			history: []ocispec.History{
				{Created: tp(t0), CreatedBy: "base"},
				{CreatedBy: "ENV A=b", EmptyLayer: true},
				{CreatedBy: "RUN true"},
				{CreatedBy: "COPY . /"},
				{CreatedBy: "CMD x", EmptyLayer: true},
			},
			layers:      []cache.Layer{base, run, cp},
			wantDiffIDs: []digest.Digest{base.DiffID, cp.DiffID},
			wantBlobs:   []digest.Digest{base.Blob.Digest, cp.Blob.Digest},
			wantHistory: []ocispec.History{
				{Created: tp(t0), CreatedBy: "base"},
				{Created: tp(t0), CreatedBy: "ENV A=b", EmptyLayer: true},
				{Created: tp(t1), CreatedBy: "RUN true", EmptyLayer: true},
				{Created: tp(t2), CreatedBy: "COPY . /"},
				{Created: tp(t2), CreatedBy: "CMD x", EmptyLayer: true},
			},
			wantCreated: t2,
		},
		{
			name:        "explicit created kept",
			history:     []ocispec.History{{Created: tp(t0), CreatedBy: "base"}},
			created:     tp(t1),
			layers:      []cache.Layer{base},
			wantDiffIDs: []digest.Digest{base.DiffID},
			wantBlobs:   []digest.Digest{base.Blob.Digest},
			wantHistory: []ocispec.History{{Created: tp(t0), CreatedBy: "base"}},
			wantCreated: t1,
		},
		{
			name:        "fewer history layers than layers",
			history:     []ocispec.History{{CreatedBy: "base"}},
			layers:      []cache.Layer{base, extra},
			wantDiffIDs: []digest.Digest{base.DiffID, extra.DiffID},
			wantBlobs:   []digest.Digest{base.Blob.Digest, extra.Blob.Digest},
			wantHistory: []ocispec.History{{Created: tp(base.Created), CreatedBy: "base"}},
			wantCreated: base.Created,
		},
		{
			name:    "more history layers than layers",
			history: []ocispec.History{{CreatedBy: "base"}, {CreatedBy: "RUN x"}},
			layers:  []cache.Layer{base},
			wantErr: ErrHistoryMismatch,
		},
		{
			name:        "no layers",
			history:     []ocispec.History{{Created: tp(t0), CreatedBy: "ENV A=b", EmptyLayer: true}},
			wantDiffIDs: []digest.Digest{},
			wantBlobs:   nil,
			wantHistory: []ocispec.History{{Created: tp(t0), CreatedBy: "ENV A=b", EmptyLayer: true}},
			wantCreated: t0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			bs := newMemStore()
			img := ocispec.Image{
				Created:  tt.created,
				Platform: ocispec.Platform{Architecture: "arm64", OS: "linux", Variant: "v8"},
				Config:   ocispec.ImageConfig{Env: []string{"A=b"}, Cmd: []string{"x"}},
				History:  tt.history,
			}
			before := append([]ocispec.History(nil), tt.history...)
			desc, err := WriteImage(ctx, bs, img, tt.layers)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tt.history, before) {
				t.Errorf("caller's history modified: got %+v, want %+v", tt.history, before)
			}
			if desc.MediaType != ocispec.MediaTypeImageManifest {
				t.Errorf("got media type %q, want %q", desc.MediaType, ocispec.MediaTypeImageManifest)
			}
			if desc.Platform == nil || desc.Platform.OS != "linux" || desc.Platform.Architecture != "arm64" || desc.Platform.Variant != "v8" {
				t.Errorf("got platform %+v, want linux/arm64/v8", desc.Platform)
			}
			m, got, err := ReadImage(ctx, bs, desc.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if m.SchemaVersion != 2 || m.MediaType != ocispec.MediaTypeImageManifest || m.Config.MediaType != ocispec.MediaTypeImageConfig {
				t.Errorf("got manifest header %d %q config %q", m.SchemaVersion, m.MediaType, m.Config.MediaType)
			}
			var blobs []digest.Digest
			for _, l := range m.Layers {
				blobs = append(blobs, l.Digest)
				if l.MediaType != ocispec.MediaTypeImageLayerGzip {
					t.Errorf("got layer media type %q", l.MediaType)
				}
			}
			if !reflect.DeepEqual(blobs, tt.wantBlobs) {
				t.Errorf("got layers %v, want %v", blobs, tt.wantBlobs)
			}
			if got.RootFS.Type != "layers" || !reflect.DeepEqual(got.RootFS.DiffIDs, tt.wantDiffIDs) {
				t.Errorf("got rootfs %+v, want layers %v", got.RootFS, tt.wantDiffIDs)
			}
			if len(got.History) != len(tt.wantHistory) {
				t.Fatalf("got %d history entries, want %d", len(got.History), len(tt.wantHistory))
			}
			for i, h := range got.History {
				w := tt.wantHistory[i]
				if h.CreatedBy != w.CreatedBy || h.EmptyLayer != w.EmptyLayer || !timeEqual(h.Created, w.Created) {
					t.Errorf("history[%d]: got %s, want %s", i, fmtHistory(h), fmtHistory(w))
				}
			}
			if got.Created == nil || !got.Created.Equal(tt.wantCreated) {
				t.Errorf("got created %v, want %v", got.Created, tt.wantCreated)
			}
			if got.OS != "linux" || got.Architecture != "arm64" || !reflect.DeepEqual(got.Config.Env, []string{"A=b"}) {
				t.Errorf("got config %+v, platform %s/%s", got.Config, got.OS, got.Architecture)
			}

			// Same inputs, another store: same digest.
			again, err := WriteImage(ctx, newMemStore(), img, tt.layers)
			if err != nil {
				t.Fatal(err)
			}
			if again.Digest != desc.Digest {
				t.Errorf("second write: got digest %s, want %s", again.Digest, desc.Digest)
			}
		})
	}
}

func timeEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func fmtHistory(h ocispec.History) string {
	c := "nil"
	if h.Created != nil {
		c = h.Created.Format(time.RFC3339)
	}
	return "{" + h.CreatedBy + " created=" + c + " empty=" + map[bool]string{true: "true", false: "false"}[h.EmptyLayer] + "}"
}

func TestReadImageRejects(t *testing.T) {
	ctx := context.Background()
	bs := newMemStore()
	desc, err := WriteImage(ctx, bs, ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := ReadImage(ctx, bs, desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	index, _, err := bs.PutBlob(stringsReader(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		d    digest.Digest
	}{
		{"config instead of manifest", m.Config.Digest},
		{"index", index},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := ReadImage(ctx, bs, tt.d); !errors.Is(err, ErrInvalidImage) {
				t.Errorf("got error %v, want %v", err, ErrInvalidImage)
			}
		})
	}
}

func TestWriteImageConfigFields(t *testing.T) {
	bs := newMemStore()
	img := ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}}
	img.Config.Cmd = []string{"sh"}
	plain, err := WriteImage(context.Background(), bs, img, nil)
	if err != nil {
		t.Fatal(err)
	}
	same, err := WriteImage(context.Background(), bs, img, nil, WithConfigFields(map[string]any{"Shell": nil}))
	if err != nil {
		t.Fatal(err)
	}
	if same.Digest != plain.Digest {
		t.Errorf("nil extra field: got digest %s, want the plain image's %s", same.Digest, plain.Digest)
	}
	desc, err := WriteImage(context.Background(), bs, img, nil, WithConfigFields(map[string]any{"Shell": []string{"/bin/bash", "-c"}}))
	if err != nil {
		t.Fatal(err)
	}
	m, got, err := ReadImage(context.Background(), bs, desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Config.Cmd) != 1 || got.Config.Cmd[0] != "sh" {
		t.Errorf("got Cmd %v, want [sh]", got.Config.Cmd)
	}
	raw, err := bs.ReadBlob(m.Config.Digest)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Config struct{ Shell []string }
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Config.Shell) != 2 || doc.Config.Shell[0] != "/bin/bash" {
		t.Errorf("got Shell %v in the stored config, want [/bin/bash -c]", doc.Config.Shell)
	}
}
