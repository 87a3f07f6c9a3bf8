package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
)

// History is what one build of a (context dir, Dockerfile, target) saw of
// each step, kept so that the next build of the same can say why a step was
// not cached (`kiln build --explain`). It lives under history/, one file per
// build identity; it is advisory, so it is written without fsync.
type History struct {
	Steps map[string]StepHistory `json:"steps"` // by StepHistory.ID
}

// StepHistory is one step of a build: its cache key and the inputs the key
// covers, in a form that can be compared field by field.
type StepHistory struct {
	ID      string          `json:"id"`             // stable across edits of other steps, e.g. "build 2"
	Name    string          `json:"name,omitempty"` // for people, e.g. "[build 2/4] RUN make"
	Text    string          `json:"text,omitempty"` // the instruction as written
	Kind    string          `json:"kind"`
	Key     digest.Digest   `json:"key"`
	Inputs  []digest.Digest `json:"inputs,omitempty"` // the inputs' keys
	Env     []string        `json:"env,omitempty"`    // exec: KEY=VALUE
	Cwd     string          `json:"cwd,omitempty"`
	User    string          `json:"user,omitempty"`
	Content digest.Digest   `json:"content,omitempty"` // copy from the context: ChecksumContext
	Base    digest.Digest   `json:"base,omitempty"`    // source: the image's manifest digest
	BaseRef string          `json:"baseRef,omitempty"` // source: the reference as written
}

// HistoryID names the history of builds of one Dockerfile and target in one
// context directory.
func HistoryID(contextDir, dockerfile, target string) string {
	sum := sha256.Sum256([]byte(contextDir + "\x00" + dockerfile + "\x00" + target))
	return hex.EncodeToString(sum[:])
}

func (s *Store) historyPath(id string) (string, error) {
	if len(id) != 64 || !isHexPrefix(id) {
		return "", fmt.Errorf("history %q: invalid id", id)
	}
	return filepath.Join(s.root, "history", id+".json"), nil
}

// BuildHistory returns the history saved under id; a missing or unreadable
// one is empty (it is only advice).
func (s *Store) BuildHistory(id string) (History, error) {
	p, err := s.historyPath(id)
	if err != nil {
		return History{}, err
	}
	var h History
	b, err := os.ReadFile(p)
	if err == nil && json.Unmarshal(b, &h) == nil && h.Steps != nil {
		return h, nil
	}
	return History{Steps: map[string]StepHistory{}}, nil
}

// PutBuildHistory saves h under id, unless it is what is there already (a
// no-op rebuild writes nothing).
func (s *Store) PutBuildHistory(id string, h History) error {
	p, err := s.historyPath(id)
	if err != nil {
		return err
	}
	b, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("save build history: %w", err)
	}
	if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, b) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("save build history: %w", err)
	}
	if err := s.writeFile(p, b, 0o600, false); err != nil {
		return fmt.Errorf("save build history: %w", err)
	}
	return nil
}

func (s *Store) contextFilesPath(content digest.Digest) (string, error) {
	if err := content.Validate(); err != nil {
		return "", fmt.Errorf("context files %q: %w", content, err)
	}
	return filepath.Join(s.root, "history", "files", content.Encoded()+".json"), nil
}

// PutContextFiles keeps the selection (from ChecksumContextFiles) whose
// checksum is content, so a later build can name the files that changed.
// It is content-addressed: an unchanged selection costs one lstat.
func (s *Store) PutContextFiles(content digest.Digest, files map[string]string) error {
	p, err := s.contextFilesPath(content)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	b, err := json.Marshal(files)
	if err != nil {
		return fmt.Errorf("save context files: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("save context files: %w", err)
	}
	if err := s.writeFile(p, b, 0o600, false); err != nil {
		return fmt.Errorf("save context files: %w", err)
	}
	return nil
}

// ContextFiles returns the selection saved under content; ok is false if
// there is none.
func (s *Store) ContextFiles(content digest.Digest) (map[string]string, bool, error) {
	p, err := s.contextFilesPath(content)
	if err != nil {
		return nil, false, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("context files %s: %w", content, err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, false, nil // a torn write: treat as missing
	}
	return m, true, nil
}
