package e2e

import (
	"strings"
	"testing"
)

// What the Dockerfile language decides about RUN, checked by running the
// result: variable expansion forms, WORKDIR chains, SHELL, heredocs and
// RUN --network=none. One build keeps it fast.
func TestLangRun(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
ARG F=dir/sub/file.tar.gz
ENV V=1.2.3
# The frontend expands these; the shell only echoes them.
ENV BASE=${F##*/} DIR=${F%/*} STEM=${F%%.*} FIRST=${F#*/} NOGZ=${F%.gz} \
    MAJOR=${V%%.*} SWAP=${V//./-} ONE=${V/./_} DEF=${UNSET:-dflt} ALT=${V:+set} LIT=\$V Q='$V'
RUN echo "$BASE|$DIR|$STEM|$FIRST|$NOGZ|$MAJOR|$SWAP|$ONE|$DEF|$ALT|$LIT|$Q" > /expand.txt
WORKDIR /a
WORKDIR b
WORKDIR ../c/./d
RUN pwd > /wd.txt
WORKDIR /
RUN <<EOF
echo heredoc > /h1.txt
echo "$V" >> /h1.txt
EOF
RUN cat <<'X' > /h2.txt && cat <<-Y >> /h2.txt
literal $V
X
` + "\texpanded $V\n\tY\n" + `RUN --network=none cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' > /net.txt
SHELL ["/bin/env", "VIA_SHELL=yes", "/bin/sh", "-c"]
RUN echo "shell $VIA_SHELL" > /shell.txt
RUN ["/bin/sh", "-c", "echo exec ${VIA_SHELL:-none} > /exec.txt"]
`,
	})
	build(t, root, dir, "-t", "lang-run")
	for _, tc := range []struct{ file, want string }{
		{"/expand.txt", "file.tar.gz|dir/sub|dir/sub/file|sub/file.tar.gz|dir/sub/file.tar|1|1-2-3|1_2.3|dflt|set|$V|$V\n"},
		{"/wd.txt", "/a/c/d\n"},
		{"/h1.txt", "heredoc\n1.2.3\n"},
		{"/h2.txt", "literal $V\nexpanded 1.2.3\n"},
		{"/net.txt", "lo\n"},
		{"/shell.txt", "shell yes\n"},
		{"/exec.txt", "exec none\n"},
	} {
		t.Run(strings.TrimPrefix(tc.file, "/"), func(t *testing.T) {
			got, _ := mustKiln(t, root, "run", "--rm", "lang-run", "cat", tc.file)
			if got != tc.want {
				t.Errorf("%s: got %q, want %q", tc.file, got, tc.want)
			}
		})
	}
}
