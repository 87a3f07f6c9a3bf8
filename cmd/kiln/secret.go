package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// parseSecrets reads the --secret flags, buildx's syntax:
// id=ID[,type=file|env][,src=PATH|source=PATH][,env=VAR]. Without a type,
// env= or src= decides; with neither, an environment variable named ID
// wins over a file named ID, as buildx does. The content is read now, so a
// missing file fails before anything is built.
func parseSecrets(flags []string, getenv func(string) (string, bool)) (map[string][]byte, error) {
	secrets := map[string][]byte{}
	for _, f := range flags {
		var id, typ, src, env string
		for _, field := range strings.Split(f, ",") {
			k, v, ok := strings.Cut(field, "=")
			if !ok {
				return nil, fmt.Errorf("--secret %q: %q is not KEY=VALUE", f, field)
			}
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "id":
				id = v
			case "type":
				typ = v
			case "src", "source":
				src = v
			case "env":
				env = v
			default:
				return nil, fmt.Errorf("--secret %q: unknown key %q (want id, type, src or env)", f, k)
			}
		}
		if id == "" {
			return nil, fmt.Errorf("--secret %q: id= is required", f)
		}
		if typ == "" {
			switch {
			case env != "":
				typ = "env"
			case src != "":
				typ = "file"
			default:
				if _, ok := getenv(id); ok {
					typ, env = "env", id
				} else {
					typ, src = "file", id
				}
			}
		}
		switch typ {
		case "env":
			if env == "" {
				env = id
			}
			if src != "" {
				return nil, fmt.Errorf("--secret %q: src= with type=env", f)
			}
			v, ok := getenv(env)
			if !ok {
				return nil, fmt.Errorf("--secret id=%s: environment variable %s is not set", id, env)
			}
			secrets[id] = []byte(v)
		case "file":
			if src == "" {
				src = id
			}
			b, err := os.ReadFile(src)
			if err != nil {
				// Name the file and the id, never the content.
				var pe *os.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				return nil, fmt.Errorf("--secret id=%s: read %s: %w", id, src, err)
			}
			secrets[id] = b
		default:
			return nil, fmt.Errorf("--secret %q: unknown type %q (want file or env)", f, typ)
		}
	}
	return secrets, nil
}
