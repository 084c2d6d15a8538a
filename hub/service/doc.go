// Package service serves a hub's public API, HubService, with connect-go: one HTTP handler that
// speaks gRPC, gRPC-Web and Connect, beside gRPC health and reflection, so grpc-go, grpcurl,
// browsers and plain HTTP clients all reach it on one port.
//
// Subscribe streams records straight from the hub's ring in their protobuf encoding: the hub
// selects on the envelope and never re-encodes a record for a binary client. JSON clients get
// the same records through protojson. A subscription with a filter (a Falco condition over the
// macros and lists of the rules in force, or CEL) decodes the records it reads to evaluate them
// with the policy engine, and keeps the entities they reference.
package service
