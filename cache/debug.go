package cache

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Debug containers are failed RUN steps kept by kiln build --on-error=keep:
// debug/<id>/ holds the step's overlay upper and work directories as they
// were when it failed, and config.json, which the solver writes and reads
// (how the step ran); the store only keeps them.

// ErrNoDebug reports a debug container ID the store does not have.
var ErrNoDebug = errors.New("no such debug container")

// KeepDebug moves dir, a temp dir of this store holding upper/ and work/,
// to debug/<id>/ with config beside them, and returns the new ID.
func (s *Store) KeepDebug(dir string, config []byte) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b[:])
	if err := os.WriteFile(filepath.Join(dir, "config.json"), config, 0o600); err != nil {
		return "", fmt.Errorf("keep debug container: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(s.root, "debug"), 0o700); err != nil {
		return "", fmt.Errorf("keep debug container: %w", err)
	}
	if err := os.Rename(dir, filepath.Join(s.root, "debug", id)); err != nil {
		return "", fmt.Errorf("keep debug container: %w", err)
	}
	return id, nil
}

// DebugContainer returns the directory and config of the debug container
// whose ID is or starts with id.
func (s *Store) DebugContainer(id string) (dir string, config []byte, err error) {
	if id == "" || strings.ContainsAny(id, `/\.`) {
		return "", nil, fmt.Errorf("debug container %q: %w", id, ErrNoDebug)
	}
	ents, err := os.ReadDir(filepath.Join(s.root, "debug"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", nil, err
	}
	var match []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), id) {
			match = append(match, e.Name())
		}
	}
	switch len(match) {
	case 0:
		return "", nil, fmt.Errorf("debug container %q: %w", id, ErrNoDebug)
	case 1:
	default:
		return "", nil, fmt.Errorf("debug container %q: ambiguous, matches %s", id, strings.Join(match, ", "))
	}
	dir = filepath.Join(s.root, "debug", match[0])
	config, err = os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return "", nil, fmt.Errorf("debug container %s: %w", match[0], err)
	}
	return dir, config, nil
}
