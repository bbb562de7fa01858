package lab_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/nstopo/nstopo/lab"
)

// FuzzParse: no input makes Parse or Validate panic, and a description that parses
// writes out as JSON that parses again to one that Validate judges alike.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "examples", "labs", "*.yaml"))
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("name: x\ntopology: {nodes: {a: {}}, links: [{endpoints: [\"a:e\", \"a:f\"]}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := lab.Parse(data, lab.YAML)
		if err != nil {
			return
		}
		verr := s.Validate()
		_ = s.DOT()
		_ = s.Mermaid()
		j, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		back, err := lab.Parse(j, lab.JSON)
		if err != nil {
			t.Fatalf("the JSON of a parsed description does not parse: %v\n%s", err, j)
		}
		if (back.Validate() == nil) != (verr == nil) {
			t.Fatalf("Validate: %v before JSON, %v after\n%s", verr, back.Validate(), j)
		}
	})
}
