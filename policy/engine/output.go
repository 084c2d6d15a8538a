package engine

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sysflux/sysflux/agent/sfavro"
	"github.com/sysflux/sysflux/policy/field"
)

// Output is a rule's output template: text with %field references, as Falco writes them
// (%proc.name, %evt.arg.path, %proc.aname[2]).
type Output struct {
	parts []outputPart
}

type outputPart struct {
	text  string       // literal text, when ref is ""
	ref   string       // the reference as written, without %
	field *field.Field // nil for fields the table lacks: rendered <NA>
	arg   string
	index int    // for list fields with an index; -1 without
	path  string // for fields that take a JSON path
}

// NA is what an output shows for a field without a value, as in Falco.
const NA = "<NA>"

// ParseOutput parses an output template. Unknown fields are kept and render as <NA>, as Falco
// renders fields a source lacks.
func ParseOutput(s string) (*Output, error) {
	o := &Output{}
	for len(s) > 0 {
		i := strings.IndexByte(s, '%')
		if i < 0 || i == len(s)-1 {
			o.parts = append(o.parts, outputPart{text: s})
			break
		}
		if i > 0 {
			o.parts = append(o.parts, outputPart{text: s[:i]})
		}
		s = s[i+1:]
		n := 0
		for n < len(s) && (isNameChar(s[n]) || s[n] == '.') {
			n++
		}
		for n > 0 && s[n-1] == '.' { // a sentence's full stop
			n--
		}
		if n == 0 {
			o.parts = append(o.parts, outputPart{text: "%"})
			continue
		}
		name, arg, hasArg := s[:n], "", false
		if n < len(s) && s[n] == '[' {
			end := strings.IndexByte(s[n:], ']')
			if end < 0 {
				return nil, fmt.Errorf("%%%s: unclosed [", name)
			}
			arg, hasArg = strings.Trim(s[n+1:n+end], `"'`), true
			n += end + 1
		}
		p := outputPart{ref: s[:n], index: -1}
		if f, dotted, ok := field.Lookup(name); ok {
			p.field = f
			switch {
			case hasArg && f.Arg == field.PathArg:
				if err := field.CheckJSONPath(arg); err != nil {
					return nil, fmt.Errorf("%%%s: %w", p.ref, err)
				}
				p.path = arg
			case hasArg && f.Type == field.StringMap:
				p.arg = arg
			case hasArg:
				idx, err := strconv.Atoi(arg)
				if err != nil {
					return nil, fmt.Errorf("%%%s: index %q is not a number", p.ref, arg)
				}
				p.index = idx
			default:
				p.arg = dotted
			}
		}
		o.parts = append(o.parts, p)
		s = s[n:]
	}
	return o, nil
}

func isNameChar(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// Render writes the output for ev, and the values of the fields it names (nil for those
// without one), keyed as written.
func (o *Output) Render(ev *field.Event) (string, map[string]any) {
	var b strings.Builder
	fields := map[string]any{}
	for _, p := range o.parts {
		if p.ref == "" {
			b.WriteString(p.text)
			continue
		}
		v, ok := p.value(ev)
		if ok {
			fields[p.ref] = v
			b.WriteString(format(v))
		} else {
			fields[p.ref] = nil
			b.WriteString(NA)
		}
	}
	return b.String(), fields
}

// value returns one value of the part's field.
func (p *outputPart) value(ev *field.Event) (any, bool) {
	if p.field == nil {
		return nil, false
	}
	v, ok := p.field.Value(ev)
	if !ok {
		return nil, false
	}
	if p.path != "" {
		return field.JSONPathValue(v.(string), p.path)
	}
	switch x := v.(type) {
	case map[string]string:
		s, ok := x[p.arg]
		return s, ok
	case []string:
		if p.index >= 0 {
			if p.index >= len(x) {
				return nil, false
			}
			return x[p.index], true
		}
		if p.field.Name == "evt.type" && len(x) > 0 {
			return primaryTypes(ev), true
		}
		return strings.Join(x, ","), true
	case []int64:
		if p.index >= 0 {
			if p.index >= len(x) {
				return nil, false
			}
			return x[p.index], true
		}
		parts := make([]string, len(x))
		for i, n := range x {
			parts[i] = strconv.FormatInt(n, 10)
		}
		return strings.Join(parts, ","), true
	}
	return v, true
}

// primaryTypes names a record's system calls by the first name of each operation flag: open,
// read, close for a file flow.
func primaryTypes(ev *field.Event) string {
	flags, _ := sfavro.OpFlags(ev.Rec)
	var names []string
	for f := uint32(flags); f != 0; f &= f - 1 {
		bit := int32(f & -f)
		if calls := field.Syscalls(bit); len(calls) > 0 {
			names = append(names, calls[0])
		}
	}
	return strings.Join(names, ",")
}

func format(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// Alert is an alert in Falco's JSON output format, as Falcosidekick takes it.
type Alert struct {
	UUID         string         `json:"uuid,omitempty"`
	Output       string         `json:"output"`
	Priority     string         `json:"priority"`
	Rule         string         `json:"rule"`
	Time         time.Time      `json:"time"`
	OutputFields map[string]any `json:"output_fields"`
	Source       string         `json:"source"`
	Tags         []string       `json:"tags"`
	Hostname     string         `json:"hostname"`
}

// Alert renders r's alert for the record ev holds, as Falco would: the output prefixed with
// the time and the priority.
func (r *Rule) Alert(ev *field.Event) *Alert {
	text, fields := r.output.Render(ev)
	t := time.Unix(0, field.Time(ev.Rec)).UTC()
	tags := r.Tags
	if tags == nil {
		tags = []string{}
	}
	return &Alert{
		Output:       t.Format("15:04:05.000000000") + ": " + r.Priority.String() + " " + text,
		Priority:     r.Priority.String(),
		Rule:         r.Name,
		Time:         t,
		OutputFields: fields,
		Source:       r.Source,
		Tags:         tags,
		Hostname:     ev.Rec.GetNodeId(),
	}
}
