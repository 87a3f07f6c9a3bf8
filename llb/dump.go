package llb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Dump writes a readable listing of the graph under roots, inputs first, one
// vertex per block:
//
//	sha256:ab12… exec [build 2/4] RUN make (Dockerfile:7)
//	  inputs: sha256:cd34…
//	  {"args":["/bin/sh","-c","make"],…}
func Dump(w io.Writer, roots ...*Vertex) error {
	return Walk(roots, func(v *Vertex) error {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s", v.Digest(), v.Op.Kind())
		if v.Meta.Name != "" {
			fmt.Fprintf(&b, " %s", v.Meta.Name)
		}
		if v.Meta.File != "" {
			fmt.Fprintf(&b, " (%s:%d)", v.Meta.File, v.Meta.Line)
		}
		b.WriteString("\n")
		if len(v.Inputs) > 0 {
			names := make([]string, len(v.Inputs))
			for i, in := range v.Inputs {
				names[i] = "scratch"
				if in != nil {
					names[i] = in.Digest().String()
				}
			}
			fmt.Fprintf(&b, "  inputs: %s\n", strings.Join(names, " "))
		}
		// Shell commands are full of & and >: keep them readable.
		var op bytes.Buffer
		enc := json.NewEncoder(&op)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v.Op); err != nil {
			return err
		}
		fmt.Fprintf(&b, "  %s", op.Bytes())
		_, err := io.WriteString(w, b.String())
		return err
	})
}
