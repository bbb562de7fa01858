package lab_test

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/netnsx"
)

func load(t *testing.T, name string) *lab.Spec {
	t.Helper()
	s, err := lab.Load(filepath.Join("..", "examples", "labs", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestExampleFilesParse(t *testing.T) {
	for _, f := range []string{"article-local.yaml", "article-vxlan.yaml", "swarm.yaml", "article-local.json"} {
		load(t, f)
	}
	s := load(t, "article-local.yaml")
	if got, want := s.Namespaces(), []string{"container-1", "container-2", "host"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Namespaces() = %v, want %v", got, want)
	}
	if got := s.Topology.Nodes["host"].Bridges["br0"].Addrs; len(got) != 1 || got[0] != netip.MustParsePrefix("172.16.1.1/16") {
		t.Errorf("br0 addrs = %v", got)
	}
}

func TestJSONEqualsYAML(t *testing.T) {
	y, j := load(t, "article-local.yaml"), load(t, "article-local.json")
	if !reflect.DeepEqual(y, j) {
		t.Errorf("the JSON file parses to\n%#v\nthe YAML file to\n%#v", j, y)
	}
}

func TestEndpointForms(t *testing.T) {
	brief := `name: x
topology:
  nodes: {a: {}, b: {}}
  links:
    - endpoints: ["a:e1", "b:e1"]
`
	object := `name: x
topology:
  nodes: {a: {}, b: {}}
  links:
    - endpoints: [{node: a, interface: e1}, {node: b, interface: e1}]
`
	s1, err := lab.Parse([]byte(brief), lab.YAML)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := lab.Parse([]byte(object), lab.YAML)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s1, s2) {
		t.Errorf("brief %#v != object %#v", s1, s2)
	}
	want := lab.Endpoint{Node: "a", Interface: "e1"}
	if !reflect.DeepEqual(s1.Topology.Links[0].Endpoints[0], want) {
		t.Errorf("endpoint = %#v", s1.Topology.Links[0].Endpoints[0])
	}
	j, err := s1.Topology.Links[0].Endpoints[0].MarshalJSON()
	if err != nil || string(j) != `"a:e1"` {
		t.Errorf("MarshalJSON = %s, %v; want \"a:e1\"", j, err)
	}
	mac := lab.Endpoint{Node: "a", Interface: "e1", HardwareAddr: []byte{2, 0, 0, 0, 0, 1}}
	j, err = mac.MarshalJSON()
	if err != nil || !strings.Contains(string(j), `"mac":"02:00:00:00:00:01"`) {
		t.Errorf("MarshalJSON = %s, %v", j, err)
	}
	var back lab.Endpoint
	if err := back.UnmarshalJSON(j); err != nil || !reflect.DeepEqual(back, mac) {
		t.Errorf("UnmarshalJSON(%s) = %#v, %v", j, back, err)
	}
}

func TestParseUnknownFields(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		format     lab.Format
		want       []string
	}{
		{"top", "name: x\ntopolgy: {}\n", lab.YAML, []string{"topolgy (line 2): unknown field"}},
		{"node", "name: x\ntopology:\n  nodes:\n    a: {image: alpine}\n", lab.YAML, []string{"topology.nodes.a.image (line 4): unknown field"}},
		{"endpoint and bridge", "name: x\ntopology:\n  nodes:\n    a: {bridges: {br0: {vlan: 1}}}\n  links:\n    - endpoints: [{node: a, interface: e, ip: 1}, \"a:f\"]\n",
			lab.YAML, []string{"topology.links[0].endpoints[0].ip (line 6)", "topology.nodes.a.bridges.br0.vlan (line 4)"}},
		{"json", `{"name": "x", "topology": {"nodes": {"a": {"kind": "linux"}}}, "mgmt": {}}`, lab.JSON,
			[]string{"mgmt: unknown field", "topology.nodes.a.kind: unknown field"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := lab.Parse([]byte(tc.data), tc.format)
			if !errors.Is(err, netnsx.ErrInvalid) {
				t.Fatalf("Parse = %v, want ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestParseHostile(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		format     lab.Format
	}{
		{"empty yaml", "", lab.YAML},
		{"empty json", "", lab.JSON},
		{"not yaml", "name: [", lab.YAML},
		{"json trailing", `{"name":"x"} {}`, lab.JSON},
		{"bad prefix", "name: x\ntopology:\n  nodes: {a: {bridges: {br0: {addrs: [1.2.3.4]}}}}\n", lab.YAML},
		{"bad endpoint", "name: x\ntopology:\n  nodes: {a: {}}\n  links: [{endpoints: [a, \"a:b\"]}]\n", lab.YAML},
		{"bad mac", `{"name":"x","topology":{"nodes":{"a":{}},"links":[{"endpoints":[{"node":"a","interface":"e","mac":"zz"},"a:f"]}]}}`, lab.JSON},
		{"wrong type", "name: x\ntopology:\n  nodes: [a]\n", lab.YAML},
		{"unknown format", "name: x", lab.Format(7)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := lab.Parse([]byte(tc.data), tc.format); !errors.Is(err, netnsx.ErrInvalid) {
				t.Errorf("Parse = %+v, %v; want ErrInvalid", s, err)
			}
		})
	}
	if _, err := lab.Load("lab.toml"); !errors.Is(err, netnsx.ErrInvalid) {
		t.Errorf("Load(lab.toml) = %v, want ErrInvalid", err)
	}
	if _, err := lab.Load(filepath.Join(t.TempDir(), "none.yaml")); !errors.Is(err, netnsx.ErrNotFound) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotFound", err)
	}
}

// TestValidateTenMistakes: a description with ten different mistakes gets ten messages,
// each with its path, in one error.
func TestValidateTenMistakes(t *testing.T) {
	data := `name: Ten!
topology:
  nodes:
    a:
      sysctls: {kernel.pid_max: "1"}
      bridges:
        br0: {mtu: 10}
      routes:
        - {dst: 10.9.0.0/16}
    b:
      ipv4only: true
  links:
    - endpoints: ["a:e1", "c9:e1"]
    - endpoints:
        - {node: a, interface: e1}
        - {node: b, interface: eth0, addrs: ["fd00::1/64"], bridge: br9}
    - endpoints: ["a:this-name-is-too-long", "b:eth1"]
      impair: {rate: fast}
`
	s, err := lab.Parse([]byte(data), lab.YAML)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Validate()
	want := []string{
		`name: "Ten!": only a-z, 0-9, '-', '_' and '.' are allowed`,
		`topology.links[0].endpoints[1]: node "c9" not defined`,
		`topology.links[1].endpoints[0]: interface "e1" of node "a" already defined at topology.links[0].endpoints[0]`,
		`topology.links[1].endpoints[1].addrs[0]: IPv6 address fd00::1/64 in an IPv4-only node`,
		`topology.links[1].endpoints[1].bridge: node "b" has no bridge "br9"`,
		`topology.links[2].endpoints[0].interface: interface name "this-name-is-too-long" longer than 15 bytes`,
		`topology.links[2].impair.rate: rate "fast" is not a positive rate such as "10mbit"`,
		`topology.nodes.a.bridges.br0.mtu: 10 out of range 68..65535`,
		`topology.nodes.a.routes[0]: a route needs a gateway (via) or a device (dev)`,
		`topology.nodes.a.sysctls.kernel.pid_max: only keys under net. belong to a namespace`,
	}
	var fes []*lab.FieldError
	if !errors.Is(err, netnsx.ErrInvalid) {
		t.Fatalf("Validate = %v, want ErrInvalid", err)
	}
	joined := errors.Unwrap(err)
	for _, e := range joined.(interface{ Unwrap() []error }).Unwrap() {
		var fe *lab.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a *FieldError", e)
		}
		fes = append(fes, fe)
	}
	var got []string
	for _, fe := range fes {
		got = append(got, strings.TrimSuffix(fe.Error(), ": "+netnsx.ErrInvalid.Error()))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Validate found %d problems:\n%s\nwant %d:\n%s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
}

// TestDrawings: the description's DOT is a graph Graphviz renders, with the bridge and
// the overlay in it; its Mermaid names the same things.
func TestDrawings(t *testing.T) {
	s := load(t, "swarm.yaml")
	dot, mermaid := s.DOT(), s.Mermaid()
	for _, want := range []string{`"swarm00/br0" [shape=ellipse, label="br0"]`, `vxlan0 vni 4096`, `"c-swarm02"`, `eth0 10.200.0.4/16`} {
		if !strings.Contains(dot, want) {
			t.Errorf("DOT lacks %s:\n%s", want, dot)
		}
	}
	for _, want := range []string{`(["br0"])`, `{"vxlan0 vni 4096"}`, `["c-swarm02"]`, `eth0 10.200.0.4/16`} {
		if !strings.Contains(mermaid, want) {
			t.Errorf("Mermaid lacks %s:\n%s", want, mermaid)
		}
	}
	if _, err := exec.LookPath("dot"); err != nil {
		t.Skip("no Graphviz dot to render the graph")
	}
	cmd := exec.Command("dot", "-Tsvg")
	cmd.Stdin = strings.NewReader(dot)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "<svg") {
		t.Errorf("dot -Tsvg: %v: %.300s\n%s", err, out, dot)
	}
}

// TestValidateTable: one mistake a case, found at its path; and descriptions that are
// right pass.
func TestValidateTable(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string // want "": valid
	}{
		{"bridge underlay", `{name: x, topology: {nodes: {a: {bridges: {br0: {addrs: [10.0.0.1/24]}}}, b: {bridges: {br0: {addrs: [10.0.0.2/24]}}}},
			overlays: [{name: vx, vni: 1, members: [{node: a, underlay: br0}, {node: b, underlay: br0}]}]}}`, ""},
		{"no name", `{topology: {nodes: {a: {}}}}`, "name: required"},
		{"long name", `{name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, topology: {nodes: {a: {}}}}`, "name: \"aaaa"},
		{"no nodes", `{name: x, topology: {}}`, "topology.nodes: a lab needs at least one node"},
		{"bad node name", `{name: x, topology: {nodes: {"a/b": {}}}}`, `topology.nodes.a/b: node name "a/b"`},
		{"dot node", `{name: x, topology: {nodes: {"..": {}}}}`, `topology.nodes...: node name ".." is not a file name`},
		{"bad prefix", `{name: x, prefix: "p/", topology: {nodes: {a: {}}}}`, `prefix: "p/"`},
		{"lo", `{name: x, topology: {nodes: {a: {}, b: {}}, links: [{endpoints: ["a:lo", "b:e"]}]}}`, `topology.links[0].endpoints[0]: interface "lo" of node "a" already defined at the loopback`},
		{"colon", `{name: x, topology: {nodes: {a: {}}, links: [{endpoints: ["a:e:1", "a:f"]}]}}`, `topology.links[0].endpoints[0].interface: bad interface name "e:1"`},
		{"no endpoint node", `{name: x, topology: {nodes: {a: {}}, links: [{endpoints: [{interface: e}, "a:f"]}]}}`, `topology.links[0].endpoints[0]: node required`},
		{"multicast mac", `{name: x, topology: {nodes: {a: {}}, links: [{endpoints: [{node: a, interface: e, mac: "01:00:5e:00:00:01"}, "a:f"]}]}}`, `topology.links[0].endpoints[0].mac: 01:00:5e:00:00:01 is not a unicast`},
		{"link mtu", `{name: x, topology: {nodes: {a: {}}, links: [{mtu: 70000, endpoints: ["a:e", "a:f"]}]}}`, `topology.links[0].mtu: 70000 out of range`},
		{"loss range", `{name: x, topology: {nodes: {a: {}}, links: [{impair: {loss: 101}, endpoints: [{node: a, interface: e, addrs: [10.0.0.1/24]}, {node: a, interface: f, addrs: [10.0.0.2/24]}]}]}}`, `topology.links[0].impair.loss: 101 out of range`},
		{"loss without addrs", `{name: x, topology: {nodes: {a: {}}, links: [{impair: {loss: 5}, endpoints: ["a:e", {node: a, interface: f, addrs: [10.0.0.2/24]}]}]}}`, `topology.links[0].impair.loss: loss on a:e needs addresses`},
		{"one member", `{name: x, topology: {nodes: {a: {}}, overlays: [{name: vx, vni: 1, members: [{node: a, underlay: lo, local: 10.0.0.1}]}]}}`, `topology.overlays[0].members: an overlay needs at least two members`},
		{"member twice", `{name: x, topology: {nodes: {a: {}}, overlays: [{name: vx, vni: 1, members: [{node: a, underlay: lo, local: 10.0.0.1}, {node: a, underlay: lo, local: 10.0.0.1}]}]}}`, `topology.overlays[0].members[1].node: node "a" is a member twice`},
		{"no underlay", `{name: x, topology: {nodes: {a: {}, b: {}}, overlays: [{name: vx, vni: 1, members: [{node: a, local: 10.0.0.1}, {node: b, underlay: lo, local: 10.0.0.2}]}]}}`, `topology.overlays[0].members[0].underlay: required`},
		{"route family", `{name: x, topology: {nodes: {a: {routes: [{dst: 10.0.0.0/8, via: "fd00::1"}]}}}}`, `topology.nodes.a.routes[0].via: fd00::1 is not of the family`},
		{"route dev", `{name: x, topology: {nodes: {a: {routes: [{dst: 10.0.0.0/8, dev: eth9}]}}}}`, `topology.nodes.a.routes[0].dev: node "a" has no interface "eth9"`},
		{"empty exec", `{name: x, topology: {nodes: {a: {exec: [" "]}}}}`, `topology.nodes.a.exec[0]: empty command`},
		{"default bridges", `{name: x, topology: {defaults: {bridges: {br0: {}}}, nodes: {a: {}}}}`, `topology.defaults.bridges: bridges are not defaults`},
		{"default sysctl", `{name: x, topology: {defaults: {sysctls: {kernel.x: "1"}}, nodes: {a: {}}}}`, `topology.defaults.sysctls.kernel.x: only keys under net.`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := lab.Parse([]byte(tc.yaml), lab.YAML)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tc.want != "" && (!errors.Is(err, netnsx.ErrInvalid) || !strings.Contains(err.Error(), "\n"+tc.want)):
				t.Errorf("Validate = %v\nwant a line starting %q", err, tc.want)
			case tc.want != "" && strings.Count(err.Error(), "\n") != 1:
				t.Errorf("Validate = %v\nwant one problem", err)
			}
		})
	}
	if err := (*lab.Spec)(nil).Validate(); !errors.Is(err, netnsx.ErrInvalid) {
		t.Errorf("nil Validate = %v", err)
	}
}

// TestRoundTrip: a description written out as YAML or JSON reads back the same.
func TestRoundTrip(t *testing.T) {
	for _, f := range []string{"article-local.yaml", "article-vxlan.yaml", "swarm.yaml"} {
		s := load(t, f)
		s.Topology.Links[0].Endpoints[0].HardwareAddr = []byte{2, 0, 0, 0, 0, 9}
		y, err := yaml.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		j, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			data   []byte
			format lab.Format
		}{{y, lab.YAML}, {j, lab.JSON}} {
			back, err := lab.Parse(tc.data, tc.format)
			if err != nil {
				t.Fatalf("%s as %v: %v\n%s", f, tc.format, err, tc.data)
			}
			if !reflect.DeepEqual(back, s) {
				t.Errorf("%s as %v reads back as\n%#v\nnot\n%#v\n%s", f, tc.format, back, s, tc.data)
			}
		}
	}
}

// TestParseReportsEveryValueProblem: unknown fields and values that do not decode (an
// address out of range, a word for a number, a bad MAC or endpoint) are reported all
// at once, each a *lab.FieldError with its path and, in YAML, its line.
func TestParseReportsEveryValueProblem(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		format     lab.Format
		want       []string
	}{
		{"yaml", `name: x
topology:
  nodes:
    a: {image: alpine, bridges: {br0: {addrs: [172.16.1.300/16], mtu: abc}}}
    b: {ipv4only: [1]}
  links:
    - endpoints: [a, "b:e"]
    - endpoints: [{node: a, interface: e, mac: zz, addrs: [1.2.3.4]}, "b:f"]
`, lab.YAML, []string{
			`topology.nodes.a.image (line 4): unknown field "image"`,
			"topology.nodes.a.bridges.br0.addrs[0] (line 4): netip.ParsePrefix(\"172.16.1.300/16\")",
			`topology.nodes.a.bridges.br0.mtu (line 4): "abc" is not a whole number`,
			"topology.nodes.b.ipv4only (line 5): a list is not a bool",
			`topology.links[0].endpoints[0] (line 7): endpoint "a" is not "node:interface"`,
			`topology.links[1].endpoints[0].mac (line 8): "zz" is not a MAC address`,
			"topology.links[1].endpoints[0].addrs[0] (line 8): netip.ParsePrefix(\"1.2.3.4\")",
		}},
		{"json", `{"name":"x","topology":{"nodes":{"a":{"bridges":{"br0":{"addrs":["1.2.3.400/8"]}}}},"links":[{"endpoints":[{"node":"a","interface":"e","mac":"zz"},"a"]}]}}`,
			lab.JSON, []string{
				`topology.links[0].endpoints[0].mac: "zz" is not a MAC address`,
				`topology.links[0].endpoints[1]: endpoint "a" is not "node:interface"`,
				"topology.nodes.a.bridges.br0.addrs[0]: netip.ParsePrefix(\"1.2.3.400/8\")",
			}},
		{"json type", `{"name":"x","topology":{"nodes":{"a":{"bridges":{"br0":{"mtu":"abc"}}}}}}`,
			lab.JSON, []string{"topology.nodes.bridges.mtu: a JSON string is not a whole number"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := lab.Parse([]byte(tc.data), tc.format)
			if !errors.Is(err, netnsx.ErrInvalid) {
				t.Fatalf("Parse = %v, want ErrInvalid", err)
			}
			var j interface{ Unwrap() []error }
			if !errors.As(err, &j) || len(j.Unwrap()) != len(tc.want) {
				t.Fatalf("Parse = %v, want %d joined problems", err, len(tc.want))
			}
			for i, e := range j.Unwrap() {
				var fe *lab.FieldError
				if !errors.As(e, &fe) || !strings.HasPrefix(e.Error(), tc.want[i]) {
					t.Errorf("problem %d = %v, want a *FieldError starting %q", i, e, tc.want[i])
				}
			}
		})
	}
}
