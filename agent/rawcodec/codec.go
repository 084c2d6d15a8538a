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
	// pooled, when set, is the pool buffer B lives in; grpc returns it to the pool once written.
	pooled *[]byte
}

// BatchFrame returns a Frame holding a message whose field num is a sysflow.v1.RecordBatch of
// the encoded records recs. Its buffer comes from grpc's buffer pool and goes back to it once
// grpc has written the frame, so a Frame from BatchFrame must be sent exactly once.
func BatchFrame(num protowire.Number, recs [][]byte) *Frame {
	b := mem.DefaultBufferPool().Get(SizeBatch(num, recs))
	*b = AppendBatch((*b)[:0], num, recs)
	return &Frame{B: *b, pooled: b}
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
		if f.pooled != nil {
			return mem.BufferSlice{mem.NewBuffer(f.pooled, mem.DefaultBufferPool())}, nil
		}
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
	size := batchSize(recs)
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(size))
	for _, r := range recs {
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		dst = protowire.AppendBytes(dst, r)
	}
	return dst
}

// SizeBatch returns the length of AppendBatch's encoding.
func SizeBatch(num protowire.Number, recs [][]byte) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(batchSize(recs))
}

// batchSize returns the encoded size of a RecordBatch of recs.
func batchSize(recs [][]byte) int {
	size := 0
	for _, r := range recs {
		size += protowire.SizeTag(1) + protowire.SizeBytes(len(r))
	}
	return size
}
