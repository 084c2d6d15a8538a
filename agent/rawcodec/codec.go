// Package rawcodec lets grpc-go send and receive protobuf messages that are already encoded.
//
// An agent keeps its records encoded from the moment they enter its window; a hub routes them by
// their envelope without decoding the payload. Encoding them again on every hop would cost more
// than everything else on the path, so both ends exchange Frames: the bytes of a message, passed
// through as they are. Every other message goes through grpc's own proto codec.
package rawcodec

import (
	"google.golang.org/protobuf/encoding/protowire"

	"google.golang.org/grpc/encoding"
	// Registers grpc's proto codec, which Codec falls back to.
	_ "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// Frame is a protobuf message in its wire encoding.
type Frame struct {
	// B is the encoded message. A received Frame owns B.
	B []byte
}

// Codec is grpc's "proto" codec extended to Frames: a *Frame is sent as its bytes, and a message
// received into a *Frame is kept as its bytes.
type Codec struct{}

var _ encoding.CodecV2 = Codec{}

// Name returns "proto", so Codec serves the content type gRPC clients use.
func (Codec) Name() string { return "proto" }

// Marshal encodes v.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	if f, ok := v.(*Frame); ok {
		return mem.BufferSlice{mem.SliceBuffer(f.B)}, nil
	}
	return protoCodec.Marshal(v)
}

// Unmarshal decodes data into v.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	if f, ok := v.(*Frame); ok {
		f.B = data.Materialize()
		return nil
	}
	return protoCodec.Unmarshal(data, v)
}

// protoCodec is grpc's proto codec, registered by the import above before this package's
// variables are initialised.
var protoCodec = encoding.GetCodecV2("proto")

// AppendBatch appends to dst the encoding of a sysflow.v1.RecordBatch holding the encoded
// records recs, as a length-delimited field number num of an enclosing message.
func AppendBatch(dst []byte, num protowire.Number, recs [][]byte) []byte {
	size := 0
	for _, r := range recs {
		size += protowire.SizeTag(1) + protowire.SizeBytes(len(r))
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(size))
	for _, r := range recs {
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		dst = protowire.AppendBytes(dst, r)
	}
	return dst
}
