package termsafe

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"train-42", "train-42"},
		{"résumé 训练 ✓", "résumé 训练 ✓"},
		{`back\slash`, `back\slash`},
		{"x\nFAKE bob RUNNING", `x\nFAKE bob RUNNING`},
		{"a\r\tb", `a\r\tb`},
		{"\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"\x1b[2J\x1b[H", `\x1b[2J\x1b[H`},
		{"nul\x00", `nul\x00`},
		{"del\x7f", `del\x7f`},
		{"csi\u009b31m", `csi\u009b31m`},
		{"nel\u0085", `nel\u0085`},
		{"rlo\u202eexe.txt", `rlo\u202eexe.txt`},
		{"iso\u2066x\u2069", `iso\u2066x\u2069`},
		{"bad\xff\xc2", `bad\xff\xc2`},
		{"half\xe2\x82", `half\xe2\x82`},
	} {
		got := String(tc.in)
		if got != tc.want {
			t.Errorf("String(%q) = %q; want %q", tc.in, got, tc.want)
		}
		if Safe(tc.in) != (tc.in == tc.want) {
			t.Errorf("Safe(%q) = %v; want %v", tc.in, Safe(tc.in), tc.in == tc.want)
		}
		if !Safe(got) {
			t.Errorf("String(%q) = %q is not itself safe", tc.in, got)
		}
	}
}

func TestJSONKeepsTheValue(t *testing.T) {
	names := []string{"plain", "x\nFAKE bob RUNNING", "\x1b[31mred", "del\x7f", "csi\u009b2J", "rlo\u202e", "bad\xff", "训练"}
	data, err := json.Marshal(names)
	if err != nil {
		t.Fatal(err)
	}
	safe := JSON(data)
	if !Safe(string(safe)) {
		t.Fatalf("JSON(%s) = %s; still holds a control character", data, safe)
	}
	var back []string
	if err := json.Unmarshal(safe, &back); err != nil {
		t.Fatalf("JSON output does not decode: %v\n%s", err, safe)
	}
	var orig []string
	_ = json.Unmarshal(data, &orig)
	for i := range orig {
		if back[i] != orig[i] {
			t.Errorf("name %d decodes as %q after JSON; want %q as before", i, back[i], orig[i])
		}
	}
	if plain := []byte(`{"a": "b"}`); &JSON(plain)[0] != &plain[0] {
		t.Errorf("JSON copied a safe input; want it returned as it is")
	}
}

// FuzzString: whatever goes in, what comes out is safe, valid UTF-8, on
// one line, and unchanged when it was safe.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "job", "x\nFAKE", "\x1b[2J", "\u009b", "\xff", "训练\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := String(s)
		if !Safe(got) || !utf8.ValidString(got) || strings.ContainsAny(got, "\n\r\x1b") {
			t.Fatalf("String(%q) = %q; not terminal safe", s, got)
		}
		if Safe(s) && got != s {
			t.Fatalf("String(%q) = %q; changed a safe string", s, got)
		}
	})
}

// BenchmarkString is the cost every printed cell pays: a typical safe
// value (returned as it is) and a hostile one (copied with escapes).
func BenchmarkString(b *testing.B) {
	for _, s := range []string{"snakejob_train-42", "x\nFAKE bob RUNNING"} {
		b.Run(strings.Fields(s)[0], func(b *testing.B) {
			for b.Loop() {
				_ = String(s)
			}
		})
	}
}
