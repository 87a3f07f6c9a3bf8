package cache

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Config is the store's settings, from ROOT/config.toml. The format is the
// subset of TOML kiln needs: one `key = value` per line, values quoted
// strings or bare numbers, `#` comments, no tables. Known keys:
//
//	# prune the least recently used build cache after every build until
//	# the store holds at most this much (a size: 10GB, 512MiB, 1e9)
//	gc-keep-storage = "10GB"
//
// Unknown keys are errors, so a typo does not silently keep a store growing.
type Config struct {
	GCKeepStorage int64 // bytes; 0 for no automatic collection
}

// LoadConfig reads ROOT/config.toml; a missing file is the zero Config.
func (s *Store) LoadConfig() (Config, error) {
	p := filepath.Join(s.root, "config.toml")
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(b)
}

// ParseConfig parses the content of a config.toml.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return Config{}, fmt.Errorf("config.toml:%d: want key = value", n)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if strings.HasPrefix(v, `"`) {
			end := strings.Index(v[1:], `"`)
			if end < 0 {
				return Config{}, fmt.Errorf("config.toml:%d: unterminated string", n)
			}
			rest := strings.TrimSpace(v[end+2:])
			if rest != "" && !strings.HasPrefix(rest, "#") {
				return Config{}, fmt.Errorf("config.toml:%d: unexpected %q after the value", n, rest)
			}
			v = v[1 : end+1]
		} else if i := strings.Index(v, "#"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		switch k {
		case "gc-keep-storage":
			sz, err := ParseSize(v)
			if err != nil {
				return Config{}, fmt.Errorf("config.toml:%d: gc-keep-storage: %w", n, err)
			}
			c.GCKeepStorage = sz
		default:
			return Config{}, fmt.Errorf("config.toml:%d: unknown key %q (known: gc-keep-storage)", n, k)
		}
	}
	return c, sc.Err()
}

// ParseSize parses a size as Docker's flags take them: a number with an
// optional unit, decimal (kB, MB, GB, TB, or k, m, g, t) or binary (KiB,
// MiB, GiB, TiB); B or none for bytes. Case does not matter.
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != 'e' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("size %q: want a number and a unit, like 10GB", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q", s, unit)
	}
	return int64(f * mult), nil
}

// FormatSize is the inverse of ParseSize for display: 1.5GB, 12.3MB, 512B.
func FormatSize(n int64) string {
	f := float64(n)
	for _, u := range []string{"B", "kB", "MB", "GB"} {
		if f < 1000 {
			if u == "B" {
				return fmt.Sprintf("%d%s", n, u)
			}
			return fmt.Sprintf("%.1f%s", f, u)
		}
		f /= 1000
	}
	return fmt.Sprintf("%.1fTB", f)
}
