package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem in the config: the key path and what is wrong,
// with the fix.
type Error struct {
	Path string
	Line int // 0 when unknown
	Msg  string
}

func (e Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", e.Path, e.Line, e.Msg)
	}
	return e.Path + ": " + e.Msg
}

// Errors is every problem found in one file.
type Errors []Error

func (es Errors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "config has %d error(s):", len(es))
	for _, e := range es {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}

var (
	lineRE    = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownRE = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
)

// typeErrors turns yaml.v3's "line N: ..." messages into key paths, and
// unknown keys into the list of valid ones.
func typeErrors(data []byte, te *yaml.TypeError) Errors {
	var root yaml.Node
	paths := map[int]string{}
	if yaml.Unmarshal(data, &root) == nil {
		walkPaths(&root, "", paths)
	}
	var out Errors
	for _, m := range te.Errors {
		e := Error{Path: "(file)", Msg: m}
		if sm := lineRE.FindStringSubmatch(m); sm != nil {
			e.Line, _ = strconv.Atoi(sm[1])
			e.Msg = sm[2]
			if p, ok := paths[e.Line]; ok {
				e.Path = p
			}
		}
		if um := unknownRE.FindStringSubmatch(e.Msg); um != nil {
			e.Msg = fmt.Sprintf("unknown key %q; valid keys here: %s", um[1], strings.Join(keysOf(um[2]), ", "))
		} else {
			e.Msg = strings.Replace(e.Msg, "cannot unmarshal", "wrong type: cannot read", 1)
		}
		out = append(out, e)
	}
	return out
}

// walkPaths records, per line, the key path of the first key or item on it.
func walkPaths(n *yaml.Node, path string, out map[int]string) {
	set := func(line int, p string) {
		if _, ok := out[line]; !ok && p != "" {
			out[line] = p
		}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkPaths(c, path, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			p := key.Value
			if path != "" {
				p = path + "." + key.Value
			}
			set(key.Line, p)
			walkPaths(val, p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			set(c.Line, p)
			walkPaths(c, p, out)
		}
	default:
		set(n.Line, path)
	}
}

// keysOf lists the yaml keys of the config type named like "config.Tunnel".
func keysOf(typeName string) []string {
	var found reflect.Type
	var visit func(t reflect.Type)
	seen := map[reflect.Type]bool{}
	visit = func(t reflect.Type) {
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		if t.String() == typeName {
			found = t
		}
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).IsExported() {
				visit(t.Field(i).Type)
			}
		}
	}
	visit(reflect.TypeOf(Config{}))
	if found == nil {
		return nil
	}
	var keys []string
	for i := 0; i < found.NumField(); i++ {
		f := found.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.IsExported() && tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	return keys
}
