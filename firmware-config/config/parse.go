package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Load reads and parses a config file (see Parse).
func Load(path string) (*Config, error) {
	data, err := ReadLimited(path, MaxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes a TOML config, fills in defaults and validates it. On any
// problem it returns nil and an Errors value holding every problem found
// (syntax errors stop the parse: the rest of the file cannot be trusted).
func Parse(data []byte, filename string) (*Config, error) {
	return parse(data, filename, false)
}

// ParseDraft is Parse for a draft config sent to enrollment: the fields
// central fills in (broker url and credentials, central URLs, signing keys)
// may be missing; whatever is present is still checked.
func ParseDraft(data []byte, filename string) (*Config, error) {
	return parse(data, filename, true)
}

func parse(data []byte, filename string, draft bool) (*Config, error) {
	if len(data) > MaxConfigBytes {
		return nil, Errors{{File: filename, Msg: fmt.Sprintf("file is %d bytes, max %d", len(data), MaxConfigBytes)}}
	}
	if !utf8.Valid(data) {
		line := 1 + bytes.Count(data[:firstInvalidUTF8(data)], []byte("\n"))
		return nil, Errors{{File: filename, Line: line, Msg: "file is not valid UTF-8 (save it as UTF-8)"}}
	}
	// Windows editors save a UTF-8 byte order mark; TOML does not allow
	// one. Blank it (same length, so offsets and lines stay right).
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		data = append([]byte("   "), data[3:]...)
	}
	idx, perr := buildIndex(data)
	if perr != nil {
		perr.File = filename
		return nil, Errors{perr}
	}
	cfg, errs, complete := decode(data, filename, idx)
	cfg.file = filename
	cfg.lines = idx.lines
	if complete {
		skip := map[string]bool{}
		for _, e := range errs {
			skip[e.Field] = true
		}
		errs = append(errs, cfg.validate(draft, skip)...)
	}
	if err := errs.orNil(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decode unmarshals into a defaulted Config. go-toml stops at the first
// problem, so to report all of them each offending key-value is blanked out
// (newlines kept, so lines stay right) and the document decoded again. A
// problem at a [table] header cannot be blanked without moving the keys
// under it to another table, so decoding stops there and complete is false
// (the caller then skips semantic validation, which would only add noise).
func decode(data []byte, filename string, idx *index) (cfg *Config, errs Errors, complete bool) {
	doc := append([]byte(nil), data...)
	for attempt := 0; ; attempt++ {
		cfg = Default()
		cfg.Display.Brightness = nil
		cfg.Triggers = nil
		err := toml.NewDecoder(bytes.NewReader(doc)).DisallowUnknownFields().Decode(cfg)
		var strict *toml.StrictMissingError
		var de *toml.DecodeError
		switch {
		case err == nil:
		case errors.As(err, &strict):
			for i := range strict.Errors {
				errs = append(errs, unknownField(filename, &strict.Errors[i], idx))
			}
		case errors.As(err, &de):
			row, col := de.Position()
			sp := idx.spanAt(offsetOf(data, row, col))
			msg := strings.TrimPrefix(de.Error(), "toml: ")
			if sp == nil {
				errs = append(errs, &FieldError{File: filename, Line: row, Field: keyPath(de.Key()), Msg: msg})
				return cfg, errs, false
			}
			errs = append(errs, &FieldError{File: filename, Line: sp.line, Field: sp.path, Msg: decodeMessage(sp, msg)})
			if sp.kind == unstable.Table || sp.kind == unstable.ArrayTable || attempt >= 64 || isBlank(doc[sp.start:sp.end]) {
				return cfg, errs, false
			}
			for i := sp.start; i < sp.end; i++ {
				if doc[i] != '\n' && doc[i] != '\r' {
					doc[i] = ' '
				}
			}
			continue
		default:
			errs = append(errs, &FieldError{File: filename, Msg: err.Error()})
			return cfg, errs, false
		}
		if _, ok := idx.lines["display.brightness"]; !ok {
			cfg.Display.Brightness = DefaultBrightness()
		}
		if _, ok := idx.lines["trigger"]; !ok {
			cfg.Triggers = DefaultTriggers()
		}
		return cfg, errs, true
	}
}

func isBlank(b []byte) bool { return len(bytes.TrimSpace(b)) == 0 }

// decodeMessage rewords go-toml's decode errors for a field tech.
func decodeMessage(sp *span, msg string) string {
	switch {
	case strings.Contains(msg, "cannot decode"), strings.Contains(msg, "cannot store"):
		return typeMessage(sp)
	case strings.Contains(msg, "already defined"):
		return "set twice: give each key once per table (remove one of the two lines)"
	case strings.Contains(msg, "already exists"):
		return fmt.Sprintf("table [%s] appears twice: merge the two sections into one", sp.path)
	case strings.Contains(msg, "too large"), strings.Contains(msg, "overflow"), strings.Contains(msg, "out of range"):
		return "number out of range: " + msg
	}
	return msg
}

func unknownField(filename string, de *toml.DecodeError, idx *index) *FieldError {
	row, col := de.Position()
	path := keyPath(de.Key())
	if sp := idx.spanAt(offsetOf(idx.data, row, col)); sp != nil && sp.path != "" {
		path = sp.path
	}
	parent, name := splitPath(path)
	known := knownFields(parent)
	msg := fmt.Sprintf("unknown field %q", name)
	if s := closest(name, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	where := "at the top level"
	if parent != "" {
		where = "in [" + stripIndexes(parent) + "]"
	}
	if len(known) > 0 {
		msg += fmt.Sprintf("; known fields %s: %s", where, strings.Join(known, ", "))
	}
	return &FieldError{File: filename, Line: row, Field: path, Msg: msg}
}

func keyPath(k toml.Key) string { return strings.Join(k, ".") }

func splitPath(p string) (parent, name string) {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return "", p
}

// stripIndexes turns "trigger[2].event" into "trigger.event".
func stripIndexes(p string) string {
	var b strings.Builder
	skip := false
	for _, r := range p {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// typeAt finds the Go type a TOML path decodes into, by the struct tags.
func typeAt(path string) (reflect.Type, bool) {
	t := reflect.TypeFor[Config]()
	if path == "" {
		return t, true
	}
	for part := range strings.SplitSeq(stripIndexes(path), ".") {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil, false
		}
		found := false
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if tag, _, _ := strings.Cut(f.Tag.Get("toml"), ","); tag == part && f.IsExported() {
				t, found = f.Type, true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return t, true
}

func knownFields(tablePath string) []string {
	t, ok := typeAt(tablePath)
	if !ok {
		return nil
	}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("toml"), ","); tag != "" && f.IsExported() {
			out = append(out, tag)
		}
	}
	return out
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string in quotes"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.Struct:
		return "a table"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return "an array of tables"
		}
		if t.Elem().Kind() == reflect.String {
			return "an array of strings, e.g. [\"a\", \"b\"]"
		}
		return "an array of " + describeType(t.Elem())
	}
	return t.String()
}

func describeKind(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "a string"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a decimal number"
	case unstable.Bool:
		return "a boolean"
	case unstable.Array:
		return "an array"
	case unstable.InlineTable:
		return "an inline table"
	case unstable.LocalDate, unstable.LocalTime, unstable.LocalDateTime, unstable.DateTime:
		return "a date/time (put times of day in quotes: \"07:00\")"
	}
	return k.String()
}

func typeMessage(sp *span) string {
	t, ok := typeAt(sp.path)
	if !ok {
		return "wrong type: " + describeKind(sp.kind)
	}
	if t.Kind() == reflect.Slice && sp.kind == unstable.Array {
		return fmt.Sprintf("expected %s, but an element has the wrong type", describeType(t))
	}
	return fmt.Sprintf("expected %s, got %s", describeType(t), describeKind(sp.kind))
}

// index maps field paths to lines and key-value expressions to byte spans.
type index struct {
	data  []byte
	lines map[string]int
	spans []span // top-level expressions, in file order
}

type span struct {
	start, end int
	line       int
	path       string
	kind       unstable.Kind // value kind of a key-value
}

func (ix *index) spanAt(off int) *span {
	for i := range ix.spans {
		if s := &ix.spans[i]; off >= s.start && off < s.end {
			return s
		}
	}
	// A position at a header or just past a value: take the last span
	// starting at or before the offset on the same line.
	var best *span
	for i := range ix.spans {
		if s := &ix.spans[i]; s.start <= off {
			best = s
		}
	}
	if best != nil && bytes.IndexByte(ix.data[best.start:off], '\n') < 0 {
		return best
	}
	return nil
}

func buildIndex(data []byte) (*index, *FieldError) {
	ix := &index{data: data, lines: map[string]int{}}
	var p unstable.Parser
	p.Reset(data)
	// Parser.Shape scans from the start of the file on every call; a table
	// of line starts makes the index linear.
	starts := []int{0}
	for i, b := range data {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	lineOf := func(r unstable.Range) int {
		return sort.Search(len(starts), func(i int) bool { return starts[i] > int(r.Offset) })
	}
	prefix := ""
	arrays := map[string]int{}
	var walk func(n *unstable.Node, path string, line int)
	walk = func(n *unstable.Node, path string, line int) {
		if n.Raw.Length > 0 {
			line = lineOf(n.Raw)
		}
		if _, ok := ix.lines[path]; !ok {
			ix.lines[path] = line
		}
		switch n.Kind {
		case unstable.Array:
			it := n.Children()
			for i := 0; it.Next(); {
				c := it.Node()
				if c.Kind == unstable.Comment {
					continue
				}
				walk(c, fmt.Sprintf("%s[%d]", path, i), line)
				i++
			}
		case unstable.InlineTable:
			it := n.Children()
			for it.Next() {
				kv := it.Node()
				if kv.Kind != unstable.KeyValue {
					continue
				}
				walk(kv.Value(), joinPath(path, keyString(kv)), lineOf(kv.Raw))
			}
		}
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			prefix = keyString(e)
			ix.lines[prefix] = lineOf(firstKeyRaw(e))
			ix.spans = append(ix.spans, span{start: int(firstKeyRaw(e).Offset), end: int(firstKeyRaw(e).Offset + firstKeyRaw(e).Length), line: ix.lines[prefix], path: prefix, kind: unstable.Table})
		case unstable.ArrayTable:
			base := keyString(e)
			n := arrays[base]
			arrays[base] = n + 1
			line := lineOf(firstKeyRaw(e))
			if n == 0 {
				ix.lines[base] = line
			}
			prefix = fmt.Sprintf("%s[%d]", base, n)
			ix.lines[prefix] = line
			ix.spans = append(ix.spans, span{start: int(firstKeyRaw(e).Offset), end: int(firstKeyRaw(e).Offset + firstKeyRaw(e).Length), line: line, path: prefix, kind: unstable.ArrayTable})
		case unstable.KeyValue:
			path := joinPath(prefix, keyString(e))
			line := lineOf(e.Raw)
			walk(e.Value(), path, line)
			ix.lines[path] = line
			ix.spans = append(ix.spans, span{start: int(e.Raw.Offset), end: int(e.Raw.Offset + e.Raw.Length), line: line, path: path, kind: e.Value().Kind})
		}
	}
	if err := p.Error(); err != nil {
		fe := &FieldError{Msg: "TOML syntax: " + err.Error()}
		var pe *unstable.ParserError
		if errors.As(err, &pe) && len(pe.Highlight) > 0 {
			fe.Line = p.Shape(p.Range(pe.Highlight)).Start.Line
		} else if errors.As(err, &pe) {
			fe.Line = 1 + bytes.Count(data, []byte("\n"))
		}
		fe.Msg += syntaxHint(err.Error())
		return nil, fe
	}
	sort.SliceStable(ix.spans, func(i, j int) bool { return ix.spans[i].start < ix.spans[j].start })
	return ix, nil
}

func syntaxHint(msg string) string {
	switch {
	case strings.Contains(msg, "expected '=' after key"):
		return " (each line is key = value; strings need quotes)"
	case strings.Contains(msg, "start of value"):
		return " (strings and times of day need quotes: \"07:00\")"
	}
	return ""
}

func firstKeyRaw(n *unstable.Node) unstable.Range {
	it := n.Key()
	if it.Next() {
		return it.Node().Raw
	}
	return unstable.Range{}
}

func keyString(n *unstable.Node) string {
	var parts []string
	it := n.Key()
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	return strings.Join(parts, ".")
}

func joinPath(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// offsetOf converts a 1-based row and column to a byte offset.
func offsetOf(data []byte, row, col int) int {
	off := 0
	for r := 1; r < row; r++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return len(data)
		}
		off += i + 1
	}
	off += col - 1
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	return off
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// closest suggests a known name within edit distance 2.
func closest(name string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ReadLimited reads a whole file, refusing one over max bytes with an error
// naming it, so a wrong path (a device node, a huge log) cannot exhaust memory.
func ReadLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is over %d bytes", path, max)
	}
	return data, nil
}
