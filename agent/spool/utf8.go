package spool

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// escapeInvalidUTF8 replaces, in every string of m at any depth (map keys too), each byte that is
// not part of valid UTF-8 with its escape \xNN, as Go quotes such bytes. It reports whether it
// changed anything.
func escapeInvalidUTF8(m protoreflect.Message) bool {
	changed := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			mp := v.Map()
			type entry struct {
				k protoreflect.MapKey
				v protoreflect.Value
			}
			var fix []entry // entries whose string key or value needs escaping
			mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				badKey := fd.MapKey().Kind() == protoreflect.StringKind && !utf8.ValidString(k.String())
				badValue := fd.MapValue().Kind() == protoreflect.StringKind && !utf8.ValidString(v.String())
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					changed = escapeInvalidUTF8(v.Message()) || changed
				}
				if badKey || badValue {
					fix = append(fix, entry{k, v})
				}
				return true
			})
			for _, e := range fix {
				mp.Clear(e.k)
				k, v := e.k, e.v
				if fd.MapKey().Kind() == protoreflect.StringKind {
					k = protoreflect.ValueOfString(escape(k.String())).MapKey()
				}
				if fd.MapValue().Kind() == protoreflect.StringKind {
					v = protoreflect.ValueOfString(escape(v.String()))
				}
				mp.Set(k, v)
				changed = true
			}
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				switch fd.Kind() {
				case protoreflect.StringKind:
					if s := l.Get(i).String(); !utf8.ValidString(s) {
						l.Set(i, protoreflect.ValueOfString(escape(s)))
						changed = true
					}
				case protoreflect.MessageKind:
					changed = escapeInvalidUTF8(l.Get(i).Message()) || changed
				}
			}
		case fd.Kind() == protoreflect.StringKind:
			if s := v.String(); !utf8.ValidString(s) {
				m.Set(fd, protoreflect.ValueOfString(escape(s)))
				changed = true
			}
		case fd.Kind() == protoreflect.MessageKind:
			changed = escapeInvalidUTF8(v.Message()) || changed
		}
		return true
	})
	return changed
}

// escape returns s with each byte that is not part of valid UTF-8 written \xNN.
func escape(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, `\x%02x`, s[0])
		} else {
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}
