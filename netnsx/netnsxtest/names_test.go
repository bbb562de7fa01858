package netnsxtest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/internal/check"
)

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"client":                 "client",
		"TestX/case_1":           "TestX_case_1",
		"a b\tc\n":               "a_b_c_",
		"../..":                  ".._..",
		"v1.2-rc_3":              "v1.2-rc_3",
		"é":                      "__",
		strings.Repeat("x", 40):  strings.Repeat("x", labelMax),
		"a\x00b":                 "a_b",
		"x:y,z;%$":               "x_y_z___",
		strings.Repeat("/", 100): strings.Repeat("_", labelMax),
	} {
		got := sanitize(in)
		require.Equal(t, want, got, "sanitize(%q)", in)
		if got != "" {
			require.NoError(t, check.NSName(fixtureName(in)))
		}
	}
}

func TestFixtureToken(t *testing.T) {
	tok := "a0123456789abcde"
	for name, want := range map[string]bool{
		prefix + tok + "-1":              true,
		prefix + tok + "-12-client":      true,
		prefix + tok + "-12-a-b":         true,
		prefix + tok + "-":               false,
		prefix + tok + "-x":              false,
		prefix + tok + "1-1":             false, // 17 digits
		prefix + "A0123456789ABCDE-1":    false, // upper case is not ours
		prefix + tok[:15] + "-1":         false,
		prefix + "1234-48240-2":          false, // the old form
		prefix + "1234-48240-2-x":        false,
		"nstopo-" + tok + "-1":           false,
		strings.TrimSuffix(prefix, "-"):  false,
		prefix + tok + "-1" + "\n":       false,
		prefix + tok + "-1" + "-" + "\n": true, // the label is not checked here
	} {
		got, ok := fixtureToken(name)
		require.Equal(t, want, ok, "%q", name)
		if ok {
			require.Equal(t, tok, got)
		}
	}
}

// TestName: names are unambiguous. The old "nt<pid hex><counter hex>" made pid 0x1a with
// counter 0xb1 and pid 0x1ab with counter 0x1 the same name, and grew by a byte as the
// counter did.
func TestName(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range []int{0, 12, 15, 23, 24, 100} {
		want := n
		if n == 0 || n > 24 {
			want = 24
		}
		for i := 0; i < 300; i++ {
			s := Name(n)
			require.Len(t, s, want, "Name(%d) = %q", n, s)
			require.True(t, strings.HasPrefix(s, "nt"+token[tokenLen-(want-8):]), "Name(%d) = %q", n, s)
			require.False(t, seen[s], "Name(%d) = %q twice", n, s)
			seen[s] = true
			require.NoError(t, check.IfName("name", Name(15)))
		}
	}
	require.Panics(t, func() { Name(11) })
	require.Regexp(t, "^[a-f][0-9a-f]{15}$", newToken())
}
