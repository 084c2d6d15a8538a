package ring

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// A wireMessage says how each known field of a message is encoded, for checking a record's
// bytes as proto.Unmarshal would without decoding them into a message.
type wireMessage struct {
	name   protoreflect.FullName
	fields []*wireField // by field number
	// mapEntry: a map's key and value must have their own wire types. proto.Unmarshal would
	// skip them otherwise, as unknown fields, but the generated decoders would misread them.
	mapEntry bool
}

type wireField struct {
	name string
	typ  protowire.Type // the wire type a value of the field has; BytesType for messages
	list bool           // repeated: numbers may also come packed
	utf8 bool           // a string: its bytes must be UTF-8
	msg  *wireMessage   // a message (or map entry) field's message
}

// recordWire describes sysflow.v1.Record.
var recordWire = newWireMessage((*sysflowv1.Record)(nil).ProtoReflect().Descriptor(), map[protoreflect.FullName]*wireMessage{})

func newWireMessage(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]*wireMessage) *wireMessage {
	if m := seen[md.FullName()]; m != nil {
		return m
	}
	m := &wireMessage{name: md.FullName(), mapEntry: md.IsMapEntry()}
	seen[md.FullName()] = m
	fds := md.Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		f := &wireField{name: string(fd.Name()), list: fd.IsList()}
		switch fd.Kind() {
		case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind,
			protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
			f.typ = protowire.VarintType
		case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
			f.typ = protowire.Fixed32Type
		case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
			f.typ = protowire.Fixed64Type
		case protoreflect.StringKind:
			f.typ, f.utf8 = protowire.BytesType, fd.Syntax() == protoreflect.Proto3
		case protoreflect.BytesKind:
			f.typ = protowire.BytesType
		case protoreflect.MessageKind:
			f.typ, f.msg = protowire.BytesType, newWireMessage(fd.Message(), seen)
		default: // groups: none in sysflow.v1, and read as unknown fields here
			continue
		}
		if int(fd.Number()) >= len(m.fields) {
			m.fields = append(m.fields, make([]*wireField, int(fd.Number())+1-len(m.fields))...)
		}
		m.fields[fd.Number()] = f
	}
	return m
}

var errMalformed = errors.New("malformed protobuf")

// ErrMapEntryWireType is Scan's error for a map's key or value of another wire type than its
// own: proto.Unmarshal decodes such a record, but Scan refuses it.
var ErrMapEntryWireType = errors.New("map key or value of another wire type")

// check reports whether b is a message m that proto.Unmarshal decodes: well-formed, every
// known field of its own wire type well-formed in turn, and every string UTF-8. The error
// names the field. With flags, it also sets *flags to the last op_flags field of b.
func (m *wireMessage) check(b []byte, flags *int32) error {
	for len(b) > 0 {
		num, typ, n, err := m.tag(b)
		if err != nil {
			return err
		}
		b = b[n:]
		if flags != nil && num == fieldOpFlags && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("%s.op_flags: %w", m.name, errMalformed)
			}
			*flags, b = int32(v), b[n:]
			continue
		}
		if n, err = m.field(num, typ, b); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// tag reads the tag at the start of b, refusing the field numbers proto.Unmarshal refuses.
func (m *wireMessage) tag(b []byte) (protowire.Number, protowire.Type, int, error) {
	if b[0] < 0x80 && b[0] >= 0x08 { // most tags are one byte
		return protowire.Number(b[0] >> 3), protowire.Type(b[0] & 7), 1, nil
	}
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num > protowire.MaxValidNumber {
		return 0, 0, 0, fmt.Errorf("%s: %w", m.name, errMalformed)
	}
	return num, typ, n, nil
}

// field checks the value of field num, of wire type typ, at the start of b and returns its
// length.
func (m *wireMessage) field(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
	var f *wireField
	if int(num) < len(m.fields) {
		f = m.fields[num]
	}
	switch {
	case f != nil && typ == f.typ:
		if n := f.checkValue(b); n >= 0 {
			return n, nil
		}
		return 0, fmt.Errorf("%s.%s: %w", m.name, f.name, f.valueError(b))
	case f != nil && f.list && typ == protowire.BytesType && f.typ != protowire.BytesType:
		if n := f.checkPacked(b); n >= 0 {
			return n, nil
		}
		return 0, fmt.Errorf("%s.%s: %w", m.name, f.name, errMalformed)
	case f != nil && m.mapEntry:
		return 0, fmt.Errorf("%s.%s: %w", m.name, f.name, ErrMapEntryWireType)
	}
	// Unknown, or known and of another wire type: proto.Unmarshal keeps it as unknown.
	if n := protowire.ConsumeFieldValue(num, typ, b); n >= 0 {
		return n, nil
	}
	return 0, fmt.Errorf("%s field %d: %w", m.name, num, errMalformed)
}

// checkValue returns the length of a value of f at the start of b, or a negative number when
// it is not one proto.Unmarshal accepts.
func (f *wireField) checkValue(b []byte) int {
	switch f.typ {
	case protowire.VarintType:
		if len(b) > 0 && b[0] < 0x80 { // most numbers are small
			return 1
		}
		_, n := protowire.ConsumeVarint(b)
		return n
	case protowire.Fixed32Type:
		_, n := protowire.ConsumeFixed32(b)
		return n
	case protowire.Fixed64Type:
		_, n := protowire.ConsumeFixed64(b)
		return n
	}
	v, n := protowire.ConsumeBytes(b)
	switch {
	case n < 0:
		return n
	case f.utf8 && !utf8.Valid(v):
		return -1
	case f.msg != nil && f.msg.check(v, nil) != nil:
		return -1
	}
	return n
}

// valueError says why checkValue refused the value at the start of b.
func (f *wireField) valueError(b []byte) error {
	v, n := protowire.ConsumeBytes(b)
	switch {
	case f.typ != protowire.BytesType || n < 0:
		return errMalformed
	case f.utf8:
		return errors.New("invalid UTF-8")
	}
	return f.msg.check(v, nil)
}

// checkPacked returns the length of packed numbers of f at the start of b, or a negative number.
func (f *wireField) checkPacked(b []byte) int {
	v, n := protowire.ConsumeBytes(b)
	for n >= 0 && len(v) > 0 {
		m := f.checkValue(v)
		if m < 0 {
			return m
		}
		v = v[m:]
	}
	return n
}
