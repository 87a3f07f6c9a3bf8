package executor

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// execUser is a user resolved in a rootfs, as runc's GetExecUser resolves it.
type execUser struct {
	UID, GID int
	Sgids    []int
	Home     string
}

type passwdEntry struct {
	name     string
	uid, gid int
	home     string
}

type groupEntry struct {
	name    string
	gid     int
	members []string
}

func parsePasswd(r io.Reader) ([]passwdEntry, error) {
	var out []passwdEntry
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(f) < 3 || f[0] == "" || strings.HasPrefix(f[0], "#") {
			continue
		}
		e := passwdEntry{name: f[0]}
		var err error
		if e.uid, err = strconv.Atoi(f[2]); err != nil {
			continue
		}
		if len(f) > 3 {
			e.gid, _ = strconv.Atoi(f[3])
		}
		if len(f) > 5 {
			e.home = f[5]
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

func parseGroup(r io.Reader) ([]groupEntry, error) {
	var out []groupEntry
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(f) < 3 || f[0] == "" || strings.HasPrefix(f[0], "#") {
			continue
		}
		e := groupEntry{name: f[0]}
		var err error
		if e.gid, err = strconv.Atoi(f[2]); err != nil {
			continue
		}
		if len(f) > 3 && f[3] != "" {
			e.members = strings.Split(f[3], ",")
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// readDB reads a passwd or group file; a missing file is an empty database,
// as it is for Docker: numeric ids still work on an image without /etc.
func readDB[T any](path string, parse func(io.Reader) ([]T, error)) ([]T, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f)
}

func parseID(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 1<<31-2 {
		return 0, false
	}
	return n, true
}

// resolveUser resolves spec ("", name, uid, name:group, uid:gid, …) against
// passwd and group entries with runc's rules, which Docker uses: a name must
// exist, a number need not; without an explicit group the passwd entry gives
// the primary group and /etc/group the supplementary ones.
func resolveUser(spec string, users []passwdEntry, groups []groupEntry) (execUser, error) {
	u := execUser{Home: "/"}
	userArg, groupArg, _ := strings.Cut(spec, ":")
	if userArg == "" && groupArg == "" && strings.Contains(spec, ":") {
		return u, fmt.Errorf("%w: empty user %q", ErrInvalidSpec, spec)
	}
	var matched *passwdEntry
	if userArg == "" {
		userArg = "0"
	}
	if uid, ok := parseID(userArg); ok {
		u.UID = uid
		for i := range users {
			if users[i].uid == uid {
				matched = &users[i]
				break
			}
		}
	} else {
		for i := range users {
			if users[i].name == userArg {
				matched = &users[i]
				break
			}
		}
		if matched == nil {
			return u, fmt.Errorf("unable to find user %q: no matching entries in passwd file: %w", userArg, ErrUnknownUser)
		}
		u.UID = matched.uid
	}
	if matched != nil {
		u.GID = matched.gid
		if matched.home != "" {
			u.Home = matched.home
		}
	}
	if groupArg != "" {
		if gid, ok := parseID(groupArg); ok {
			u.GID = gid
		} else {
			found := false
			for _, g := range groups {
				if g.name == groupArg {
					u.GID, found = g.gid, true
					break
				}
			}
			if !found {
				return u, fmt.Errorf("unable to find group %q: no matching entries in group file: %w", groupArg, ErrUnknownUser)
			}
		}
		return u, nil
	}
	if matched != nil {
		for _, g := range groups {
			for _, m := range g.members {
				if m == matched.name {
					u.Sgids = append(u.Sgids, g.gid)
					break
				}
			}
		}
	}
	return u, nil
}

// resolveChown resolves COPY --chown's user[:group] as BuildKit does: a
// numeric user without a group gets the same number as gid, a named one its
// passwd entry's primary group.
func resolveChown(spec string, users []passwdEntry, groups []groupEntry) (uid, gid int, err error) {
	userArg, groupArg, hasGroup := strings.Cut(spec, ":")
	if userArg == "" || (hasGroup && groupArg == "") {
		return 0, 0, fmt.Errorf("%w: invalid chown %q", ErrInvalidSpec, spec)
	}
	if n, ok := parseID(userArg); ok {
		uid, gid = n, n
	} else {
		found := false
		for _, u := range users {
			if u.name == userArg {
				uid, gid, found = u.uid, u.gid, true
				break
			}
		}
		if !found {
			return 0, 0, fmt.Errorf("unable to find user %q: no matching entries in passwd file: %w", userArg, ErrUnknownUser)
		}
	}
	if !hasGroup {
		return uid, gid, nil
	}
	if n, ok := parseID(groupArg); ok {
		return uid, n, nil
	}
	for _, g := range groups {
		if g.name == groupArg {
			return uid, g.gid, nil
		}
	}
	return 0, 0, fmt.Errorf("unable to find group %q: no matching entries in group file: %w", groupArg, ErrUnknownUser)
}

// containerEnv fills in the defaults Docker and runc give a process: PATH
// when absent, HOME from the user, TERM for a tty.
func containerEnv(env []string, home string, tty bool) []string {
	out := append([]string(nil), env...)
	has := func(k string) bool {
		for _, e := range env {
			if strings.HasPrefix(e, k+"=") {
				return true
			}
		}
		return false
	}
	if !has("PATH") {
		out = append(out, "PATH="+defaultPath)
	}
	if !has("HOME") {
		out = append(out, "HOME="+home)
	}
	if tty && !has("TERM") {
		out = append(out, "TERM=xterm")
	}
	return out
}

// lookupEnv returns the last value of key in env, as a shell would see it.
func lookupEnv(env []string, key string) string {
	v := ""
	for _, e := range env {
		if k, val, ok := strings.Cut(e, "="); ok && k == key {
			v = val
		}
	}
	return v
}
