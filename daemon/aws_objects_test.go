package daemon

import (
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	for _, name := range []string{"a", "Q1", "my-queue_2", "0start", strings.Repeat("x", 128)} {
		if !validName(name) {
			t.Errorf("validName(%q) = false, want true", name)
		}
	}
	for _, name := range []string{"", "-a", "_a", "a b", "a.b", "a/b", "ü", strings.Repeat("x", 129)} {
		if validName(name) {
			t.Errorf("validName(%q) = true, want false", name)
		}
	}
}
