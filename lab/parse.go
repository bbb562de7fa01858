package lab

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/nstopo/nstopo/netnsx"
)

// Format is the syntax of a lab file.
type Format int

const (
	YAML Format = iota // YAML 1.2, containerlab's syntax; the zero value
	JSON               // JSON
)

func (f Format) String() string {
	switch f {
	case YAML:
		return "yaml"
	case JSON:
		return "json"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Parse reads a lab description. It is strict: every field the format does not have, and
// every value that does not decode into its field, is a *FieldError naming its path (and
// line, in YAML), all of them at once, joined; nothing is silently ignored. It does not
// Validate the result.
func Parse(data []byte, format Format) (*Spec, error) {
	var root yaml.Node
	switch format {
	case YAML:
		d := yaml.NewDecoder(bytes.NewReader(data))
		if err := d.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("lab: parse yaml: %w: %w", err, netnsx.ErrInvalid)
		}
		for {
			var more yaml.Node // a trailing "---" starts an empty document: allowed
			err := d.Decode(&more)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil || len(more.Content) > 0 && more.Content[0].Tag != "!!null" {
				return nil, fmt.Errorf("lab: parse yaml: a second document, or data after the first: %w", netnsx.ErrInvalid)
			}
		}
	case JSON:
		var v any
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return nil, fmt.Errorf("lab: parse json: %w: %w", err, netnsx.ErrInvalid)
		}
		if d.More() {
			return nil, fmt.Errorf("lab: parse json: data after the top-level value: %w", netnsx.ErrInvalid)
		}
		if err := jsonDuplicates(data); err != nil {
			return nil, fmt.Errorf("lab: parse json: %w", err)
		}
		if err := root.Encode(v); err != nil {
			return nil, fmt.Errorf("lab: parse json: %w: %w", err, netnsx.ErrInvalid)
		}
	default:
		return nil, fmt.Errorf("lab: parse: unknown format %v: %w", format, netnsx.ErrInvalid)
	}
	n := &root
	if n.Kind == yaml.DocumentNode || n.Kind == 0 {
		if len(n.Content) == 0 {
			return nil, fmt.Errorf("lab: parse %v: empty document: %w", format, netnsx.ErrInvalid)
		}
		n = n.Content[0]
	}
	if errs := checkFields(n, reflect.TypeOf(Spec{}), "", format == YAML, map[aliased]bool{}); len(errs) > 0 {
		plural := "s"
		if len(errs) == 1 {
			plural = ""
		}
		return nil, fmt.Errorf("lab: parse %v: %d problem%s:\n%w", format, len(errs), plural, errors.Join(errs...))
	}
	var s Spec
	var err error
	if format == YAML {
		err = n.Decode(&s)
	} else {
		d := json.NewDecoder(bytes.NewReader(data))
		d.DisallowUnknownFields()
		err = d.Decode(&s)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		err = &FieldError{Path: te.Field, Err: fmt.Errorf("a JSON %s is not a %s: %w", te.Value, kindName(te.Type), netnsx.ErrInvalid)}
		return nil, fmt.Errorf("lab: parse %v: 1 problem:\n%w", format, errors.Join(err))
	}
	if err != nil {
		return nil, fmt.Errorf("lab: parse %v: %w: %w", format, err, netnsx.ErrInvalid)
	}
	return &s, nil
}

// Load reads the lab file at path, YAML or JSON by its extension (.yaml, .yml, .json).
func Load(path string) (*Spec, error) {
	var f Format
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		f = YAML
	case ".json":
		f = JSON
	default:
		return nil, fmt.Errorf("lab: load %s: extension is not .yaml, .yml or .json: %w", path, netnsx.ErrInvalid)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%w: %w", err, netnsx.ErrNotFound)
		}
		return nil, fmt.Errorf("lab: load %s: %w", path, err)
	}
	s, err := Parse(data, f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// jsonDuplicates refuses an object with a key twice, as YAML does: encoding/json keeps
// the last silently. data is known to be one valid JSON value.
func jsonDuplicates(data []byte) error {
	d := json.NewDecoder(bytes.NewReader(data))
	type object struct {
		keys  map[string]bool
		isKey bool // the next token is a key
	}
	var stack []*object
	for {
		tok, err := d.Token()
		if err != nil {
			return nil // io.EOF: the decode before has reported any other error
		}
		var top *object
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, &object{keys: map[string]bool{}, isKey: true})
				continue
			case '[':
				stack = append(stack, nil)
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if top != nil && top.isKey {
				if top.keys[v] {
					return fmt.Errorf("key %q twice in an object (offset %d): %w", v, d.InputOffset(), netnsx.ErrInvalid)
				}
				top.keys[v] = true
				top.isKey = false
				continue
			}
		}
		if len(stack) > 0 && stack[len(stack)-1] != nil {
			stack[len(stack)-1].isKey = true
		}
	}
}

var textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()

// checkFields walks the document against t and returns an error for every mapping key
// that t has no field for, with its path: encoding/json and yaml stop at the first one,
// and name no path. An anchored node is walked once per type, where it is first used, so
// that aliases of aliases cannot make the walk grow with their expansion.
func checkFields(n *yaml.Node, t reflect.Type, path string, lines bool, seen map[aliased]bool) []error {
	if n.Kind == yaml.AliasNode {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		if seen[aliased{n, t}] {
			return nil
		}
		seen[aliased{n, t}] = true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // the zero value
	}
	if t == reflect.TypeOf(net.HardwareAddr{}) {
		return nil
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return checkValue(n, t, path, lines)
	}
	var errs []error
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeOf(Endpoint{}) && n.Kind == yaml.ScalarNode {
			if _, err := parseBrief(n.Value); err != nil {
				return []error{fieldError(path, n, lines, err)}
			}
			return nil
		}
		if n.Kind != yaml.MappingNode {
			return checkValue(n, t, path, lines)
		}
		fields := fileFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				errs = append(errs, fieldError(p, k, lines, fmt.Errorf("unknown field %q: %w", k.Value, netnsx.ErrInvalid)))
				continue
			}
			if t == reflect.TypeOf(Endpoint{}) && k.Value == "mac" && v.Kind == yaml.ScalarNode {
				if _, err := net.ParseMAC(v.Value); err != nil {
					errs = append(errs, fieldError(p, v, lines, fmt.Errorf("%q is not a MAC address: %w", v.Value, netnsx.ErrInvalid)))
				}
				continue
			}
			errs = append(errs, checkFields(v, ft, p, lines, seen)...)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return checkValue(n, t, path, lines)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, checkFields(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), lines, seen)...)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return checkValue(n, t, path, lines)
		}
		for i, c := range n.Content {
			errs = append(errs, checkFields(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), lines, seen)...)
		}
	default:
		return checkValue(n, t, path, lines)
	}
	return errs
}

// aliased is an anchored node checked against a type.
type aliased struct {
	n *yaml.Node
	t reflect.Type
}

// checkValue returns the problem, with its path, of a value that does not decode into
// t: the decoders name neither path nor, for a TextUnmarshaler (an address), line. In
// JSON only text values are checked here; the decoder names the rest.
func checkValue(n *yaml.Node, t reflect.Type, path string, lines bool) []error {
	v := reflect.New(t)
	var err error
	if u, ok := v.Interface().(encoding.TextUnmarshaler); ok && n.Kind == yaml.ScalarNode {
		if e := u.UnmarshalText([]byte(n.Value)); e != nil {
			err = fmt.Errorf("%w: %w", e, netnsx.ErrInvalid)
		}
	} else if lines && n.Decode(v.Interface()) != nil {
		what := n.Value
		if n.Kind != yaml.ScalarNode {
			what = map[yaml.Kind]string{yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}[n.Kind]
		} else {
			what = fmt.Sprintf("%q", what)
		}
		err = fmt.Errorf("%s is not a %s: %w", what, kindName(t), netnsx.ErrInvalid)
	}
	if err == nil {
		return nil
	}
	return []error{fieldError(path, n, lines, err)}
}

// kindName names what a file must give for t.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "mapping"
	case reflect.Slice, reflect.Array:
		return "list"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "whole number >= 0"
	}
	return t.Kind().String()
}

// fieldError is err at path, with the line of n in YAML.
func fieldError(path string, n *yaml.Node, lines bool, err error) *FieldError {
	if path == "" {
		path = "(top)"
	}
	if lines {
		path = fmt.Sprintf("%s (line %d)", path, n.Line)
	}
	return &FieldError{Path: path, Err: err}
}

// fileFields maps the names a struct's fields have in a file to their types.
func fileFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		m[name] = f.Type
	}
	if t == reflect.TypeOf(Endpoint{}) {
		m["mac"] = reflect.TypeOf("")
	}
	return m
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// endpointObject is an Endpoint's object form in a file.
type endpointObject struct {
	Node      string         `json:"node" yaml:"node"`
	Interface string         `json:"interface" yaml:"interface"`
	Addrs     []netip.Prefix `json:"addrs,omitempty" yaml:"addrs,omitempty"`
	MAC       string         `json:"mac,omitempty" yaml:"mac,omitempty"`
	Bridge    string         `json:"bridge,omitempty" yaml:"bridge,omitempty"`
	Impair    *Impairment    `json:"impair,omitempty" yaml:"impair,omitempty"`
}

func (e Endpoint) object() endpointObject {
	o := endpointObject{Node: e.Node, Interface: e.Interface, Addrs: e.Addrs, Bridge: e.Bridge, Impair: e.Impair}
	if e.HardwareAddr != nil {
		o.MAC = e.HardwareAddr.String()
	}
	return o
}

func (e *Endpoint) fromObject(o endpointObject) error {
	*e = Endpoint{Node: o.Node, Interface: o.Interface, Addrs: o.Addrs, Bridge: o.Bridge, Impair: o.Impair}
	if o.MAC != "" {
		mac, err := net.ParseMAC(o.MAC)
		if err != nil {
			return fmt.Errorf("mac %q: %w", o.MAC, netnsx.ErrInvalid)
		}
		e.HardwareAddr = mac
	}
	return nil
}

// brief reports whether the endpoint is only "node:ifname".
func (e Endpoint) brief() bool {
	return len(e.Addrs) == 0 && e.HardwareAddr == nil && e.Bridge == "" && e.Impair == nil &&
		!strings.Contains(e.Node, ":")
}

// String returns "node:ifname".
func (e Endpoint) String() string { return e.Node + ":" + e.Interface }

func parseBrief(s string) (Endpoint, error) {
	node, ifname, ok := strings.Cut(s, ":")
	if !ok {
		return Endpoint{}, fmt.Errorf("endpoint %q is not \"node:interface\": %w", s, netnsx.ErrInvalid)
	}
	return Endpoint{Node: node, Interface: ifname}, nil
}

// MarshalJSON writes "node:ifname" when that is all there is, an object otherwise.
func (e Endpoint) MarshalJSON() ([]byte, error) {
	if e.brief() {
		return json.Marshal(e.String())
	}
	return json.Marshal(e.object())
}

// UnmarshalJSON reads the string "node:ifname" or an object.
func (e *Endpoint) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := parseBrief(s)
		*e = v
		return err
	}
	var o endpointObject
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&o); err != nil {
		return err
	}
	return e.fromObject(o)
}

// MarshalYAML writes "node:ifname" when that is all there is, an object otherwise.
func (e Endpoint) MarshalYAML() (any, error) {
	if e.brief() {
		return e.String(), nil
	}
	return e.object(), nil
}

// UnmarshalYAML reads the string "node:ifname" or an object.
func (e *Endpoint) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		v, err := parseBrief(n.Value)
		*e = v
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		return nil
	}
	var o endpointObject
	if err := n.Decode(&o); err != nil {
		return err
	}
	if err := e.fromObject(o); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

// names returns m's keys, sorted.
func names[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}
