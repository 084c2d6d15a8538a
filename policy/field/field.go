// Package field is the table of fields that rule conditions and outputs name: Falco's (proc.*,
// fd.*, evt.*, user.*, group.*, container.*, k8s.*) and SysFlow's own sf.* fields, each defined
// on SysFlow records.
//
// A SysFlow record is not a system call: a FileFlow stands for an open, many reads and writes and
// a close of one file by one thread. The fields follow from that:
//
//   - evt.type (and sf.opflags) is a list: the names of every system call the record stands
//     for, read from its operation flags. A condition `evt.type = open` holds for a flow that
//     opened its file, whatever else it did.
//   - A field a record lacks (fd.name of a ProcessEvent, the parent of a process whose parent
//     the hub never saw) has no value, and a check on it is false, as in Falco.
//   - Ancestors (proc.aname[N], proc.apid[N], ...) come from the entities the hub keeps: a
//     record's process and its parents, through Entities.
//   - Falco fields that SysFlow records cannot carry are of two kinds. Most are unsupported
//     (WhyUnsupported says why): a rule that names one is not applicable. The few that
//     SysFlow's own policies name (container.mount.*) exist but never have a value
//     (Field.Missing): such a rule loads, its checks on them false, with a warning.
//
// Each field has a type (Type) that the translator to CEL declares. Values are computed lazily,
// once per record, when a rule or an output asks for them.
package field

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// Type is the type of a field's value.
type Type int

// Field types.
const (
	String     Type = iota + 1
	Int             // int64
	Bool            // bool
	StringList      // []string: a field with several values, or indexed by a number
	IntList         // []int64, likewise
	StringMap       // map[string]string: indexed by a name, as in evt.arg[path]
	// IPNet is a network end's addresses ([]string), which conditions match against networks
	// written in CIDR notation (fd.net = 10.0.0.0/8).
	IPNet
)

func (t Type) String() string {
	switch t {
	case String:
		return "string"
	case Int:
		return "int"
	case Bool:
		return "bool"
	case StringList:
		return "list(string)"
	case IntList:
		return "list(int)"
	case StringMap:
		return "map(string, string)"
	case IPNet:
		return "network"
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// Elem returns the type of one value of a list or map field, and t itself for others.
func (t Type) Elem() Type {
	switch t {
	case StringList, StringMap:
		return String
	case IntList:
		return Int
	}
	return t
}

// Arg says what argument a field takes.
type Arg int

// Argument kinds.
const (
	NoArg Arg = iota
	// IndexArg: proc.aname[2]; without an argument the field stands for all its values.
	IndexArg
	// KeyArg: evt.arg[path] or evt.arg.path; the argument is required.
	KeyArg
	// PathArg: sf.ke.message[items.0.namespace], a JSON path into the field's value, which is a
	// JSON document; without an argument the field is the whole document.
	PathArg
)

// Field is one field of the table.
type Field struct {
	// Name is the field's name, as rules write it.
	Name string
	// Type is the type of its value: a list or map for fields that take an argument.
	Type Type
	// Arg is the argument the field takes.
	Arg Arg
	// Desc says what the field is on SysFlow records.
	Desc string
	// Missing, when set, says why the field never has a value on SysFlow records: it exists so
	// that rules naming it load (their checks on it are false, as in Falco for a value an
	// event lacks), and loading such a rule warns.
	Missing string
	// get computes the value; ok is false when the record has none.
	get func(e *Event) (v any, ok bool)
	// getString, getInt and getBool compute the value of a String, Int or Bool field, unboxed.
	getString func(e *Event) (string, bool)
	getInt    func(e *Event) (int64, bool)
	getBool   func(e *Event) (bool, bool)
	// flagNames, for a field whose value is the list of names of the record's operation flags
	// (evt.type, sf.opflags), gives those names for given flags.
	flagNames func(flags int32) []string
	// index is the field's position in the table, for the per-record cache.
	index int
}

// Value returns the field's value for e (computed once per record), and false when e has none.
// The value is a string, int64, bool, []string, []int64 or map[string]string, as Type says.
func (f *Field) Value(e *Event) (any, bool) {
	if e.done == nil {
		e.done = make([]bool, len(table))
		e.vals = make([]any, len(table))
		e.oks = make([]bool, len(table))
	}
	if !e.done[f.index] {
		e.vals[f.index], e.oks[f.index] = f.get(e)
		e.done[f.index] = true
	}
	return e.vals[f.index], e.oks[f.index]
}

// OfFlags reports whether f's value is a list of names that the record's operation flags alone
// determine, with no value on records without operation flags: evt.type, sf.opflags.
func (f *Field) OfFlags() bool { return f.flagNames != nil }

// FlagMask returns, for a field OfFlags, the operation flags of the records whose list holds
// name: on a record with operation flags (Event.OpFlags), `name in f` holds exactly when they
// share a bit with mask. It returns 0 for a name no record's list holds, and for other fields.
func (f *Field) FlagMask(name string) (mask int32) {
	if f.flagNames == nil {
		return 0
	}
	return flagMask(f.flagNames, name)
}

// StringValue returns the value of a field of Type String for e, as Value does, but without
// boxing it in an interface and without caching it: for callers that keep values of their own.
func (f *Field) StringValue(e *Event) (string, bool) { return f.getString(e) }

// IntValue is StringValue for a field of Type Int.
func (f *Field) IntValue(e *Event) (int64, bool) { return f.getInt(e) }

// BoolValue is StringValue for a field of Type Bool.
func (f *Field) BoolValue(e *Event) (bool, bool) { return f.getBool(e) }

// Index returns the field's position in the table, from 0 to Count()-1: for tables of values
// by field.
func (f *Field) Index() int { return f.index }

// Count returns how many fields the table has.
func Count() int { return len(table) }

var (
	table       []*Field
	byName      = map[string]*Field{}
	unsupported = map[string]string{}
)

// register adds fields to the table.
func register(fs ...*Field) {
	for _, f := range fs {
		if _, dup := byName[f.Name]; dup {
			panic("field: " + f.Name + " registered twice")
		}
		f.index = len(table)
		// Fields defined by get alone get the typed accessor of their type.
		switch {
		case f.Type == String && f.getString == nil:
			f.getString = func(e *Event) (string, bool) { v, ok := f.get(e); s, _ := v.(string); return s, ok }
		case f.Type == Int && f.getInt == nil:
			f.getInt = func(e *Event) (int64, bool) { v, ok := f.get(e); n, _ := v.(int64); return n, ok }
		case f.Type == Bool && f.getBool == nil:
			f.getBool = func(e *Event) (bool, bool) { v, ok := f.get(e); b, _ := v.(bool); return b, ok }
		}
		table = append(table, f)
		byName[f.Name] = f
	}
}

// unsupportedFields records Falco fields that SysFlow records do not carry, by name prefix
// ("proc.exe_ino.") or name, with the reason.
func unsupportedFields(reason string, names ...string) {
	for _, n := range names {
		unsupported[n] = reason
	}
}

// Lookup returns the field named name, which may carry an argument written with a dot
// (evt.arg.path, proc.env.HOME): then arg is that argument. ok is false for unknown names.
func Lookup(name string) (f *Field, arg string, ok bool) {
	if f, ok := byName[name]; ok {
		return f, "", true
	}
	// The longest registered prefix taking a key: evt.arg.path → evt.arg, "path".
	for i := strings.LastIndexByte(name, '.'); i > 0; i = strings.LastIndexByte(name[:i], '.') {
		if f, ok := byName[name[:i]]; ok && f.Arg == KeyArg {
			return f, name[i+1:], true
		}
	}
	return nil, "", false
}

// WhyUnsupported returns why name, a Falco field, has no value on SysFlow records, or "" when
// it is not one of those.
func WhyUnsupported(name string) string {
	if r, ok := unsupported[name]; ok {
		return r
	}
	for prefix, r := range unsupported {
		if strings.HasSuffix(prefix, ".") || strings.HasSuffix(prefix, "_") {
			if strings.HasPrefix(name, prefix) {
				return r
			}
		}
	}
	return ""
}

// All returns every field, sorted by name.
func All() []*Field {
	fs := slices.Clone(table)
	sort.Slice(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
	return fs
}

// Entities resolves the entities records reference. The hub keeps them per agent.
type Entities interface {
	// Process returns the process with this OID, or nil.
	Process(oid *sysflowv1.OID) *sysflowv1.Process
	// File returns the file with this OID, or nil.
	File(oid []byte) *sysflowv1.File
	// Container returns the container with this id, or nil.
	Container(id string) *sysflowv1.Container
	// Pod returns the pod with this id, or nil.
	Pod(id string) *sysflowv1.Pod
}

// Event is one record being evaluated, with what its fields need: the entities it references,
// and a cache of the values computed so far. Reset it for the next record.
type Event struct {
	// Rec is the record.
	Rec *sysflowv1.Record
	// Entities resolves the record's references; nil resolves none.
	Entities Entities

	done, oks []bool
	vals      []any

	proc, parent *sysflowv1.Process // resolved on first use
	procDone     bool
	ancestors    []*sysflowv1.Process
	ancDone      bool
	file1, file2 *sysflowv1.File // resolved on first use
	filesDone    bool
}

// OpFlags returns the record's operation flags, and false for records that have none (those
// of entities and Kubernetes events).
func (e *Event) OpFlags() (int32, bool) { return sfavro.OpFlags(e.Rec) }

// Reset makes e describe rec, forgetting the values of the previous record.
func (e *Event) Reset(rec *sysflowv1.Record, ents Entities) {
	e.Rec, e.Entities = rec, ents
	clear(e.done)
	e.proc, e.parent, e.procDone = nil, nil, false
	e.ancestors, e.ancDone = e.ancestors[:0], false
	e.file1, e.file2, e.filesDone = nil, nil, false
}
