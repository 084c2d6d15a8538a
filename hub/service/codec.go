package service

import (
	"bytes"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
)

// encodedSubscribeResponse is a hubv1.SubscribeResponse in its wire encoding.
type encodedSubscribeResponse struct {
	b []byte
}

// binaryCodec is connect's "proto" codec extended to encodedSubscribeResponse.
type binaryCodec struct{}

func (binaryCodec) Name() string { return "proto" }

// Marshal returns a slice connect may keep: connect pools what Marshal returns.
func (binaryCodec) Marshal(v any) ([]byte, error) {
	if e, ok := v.(*encodedSubscribeResponse); ok {
		return bytes.Clone(e.b), nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("cannot encode %T", v)
	}
	return proto.Marshal(m)
}

// MarshalAppend copies into connect's buffer. Without it connect would keep the slice Marshal
// returns for reuse, and Subscribe reuses its buffer for the next batch.
func (binaryCodec) MarshalAppend(dst []byte, v any) ([]byte, error) {
	if e, ok := v.(*encodedSubscribeResponse); ok {
		return append(dst, e.b...), nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("cannot encode %T", v)
	}
	return proto.MarshalOptions{}.MarshalAppend(dst, m)
}

func (binaryCodec) Unmarshal(b []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("cannot decode into %T", v)
	}
	return proto.Unmarshal(b, m)
}

// jsonCodec is connect's "json" codec extended to encodedSubscribeResponse.
type jsonCodec struct{}

func (jsonCodec) Name() string { return "json" }

func (jsonCodec) Marshal(v any) ([]byte, error) {
	if e, ok := v.(*encodedSubscribeResponse); ok {
		var m hubv1.SubscribeResponse
		if err := proto.Unmarshal(e.b, &m); err != nil {
			return nil, err
		}
		v = &m
	}
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("cannot encode %T", v)
	}
	return protojson.MarshalOptions{}.Marshal(m)
}

func (jsonCodec) Unmarshal(b []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("cannot decode into %T", v)
	}
	if len(b) == 0 {
		return errors.New("empty JSON message")
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, m)
}
