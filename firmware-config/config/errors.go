package config

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem in a config file: where it is and what is
// expected instead.
type FieldError struct {
	File  string `json:"file"`
	Line  int    `json:"line"`            // 1-based; 0 if the field is not in the file
	Field string `json:"field,omitempty"` // dotted path, e.g. "display.rotation", "trigger[1].seconds"
	Msg   string `json:"message"`
}

// Error is "file:line: field: message" (parts that are unknown are left out).
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one config, in file order.
type Errors []*FieldError

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// sortErrors orders by line (unknown lines last), then field, keeping
// messages for one field in the order they were found.
func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		li, lj := es[i].Line, es[j].Line
		if li == 0 {
			li = 1 << 30
		}
		if lj == 0 {
			lj = 1 << 30
		}
		if li != lj {
			return li < lj
		}
		return es[i].Field < es[j].Field
	})
}

func (es Errors) orNil() error {
	if len(es) == 0 {
		return nil
	}
	es.sort()
	return es
}
