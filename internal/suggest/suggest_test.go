package suggest

import "testing"

func TestClosest(t *testing.T) {
	caps := []string{"SYS_ADMIN", "NET_ADMIN", "CHOWN", "MKNOD"}
	for _, tc := range []struct{ name, want string }{
		{"SYS_ADMN", "SYS_ADMIN"},
		{"net_admin", "NET_ADMIN"},
		{"CHOWM", "CHOWN"},
		{"NOTHING_LIKE_IT", ""},
		{"", ""},
	} {
		if got := Closest(tc.name, caps); got != tc.want {
			t.Errorf("Closest(%q): got %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := Closest("x", nil); got != "" {
		t.Errorf("Closest with no candidates: got %q, want \"\"", got)
	}
}
