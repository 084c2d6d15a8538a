// Package service serves a hub's public API, HubService, with connect-go: one HTTP handler that
// speaks gRPC, gRPC-Web and Connect, beside gRPC health and reflection, so grpc-go, grpcurl,
// browsers and plain HTTP clients all reach it on one port.
//
// Subscribe streams records straight from the hub's ring in their protobuf encoding: the hub
// filters on the envelope and never decodes or re-encodes a record for a binary client. JSON
// clients get the same records through protojson.
package service
