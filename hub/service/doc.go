// Package service serves a hub's public API, HubService, with connect-go: one HTTP handler that
// speaks gRPC, gRPC-Web and Connect, beside gRPC health and reflection, so grpc-go, grpcurl,
// browsers and plain HTTP clients all reach it on one port.
//
// Subscribe streams records straight from the hub's ring in their protobuf encoding: the hub
// selects on the envelope and never re-encodes a record for a binary client. JSON clients get
// the same records through protojson. A subscription with a filter (a Falco condition over the
// macros and lists of the rules in force, or CEL) decodes the records it reads to evaluate them
// with the policy engine, and keeps the entities they reference.
//
// What clients may ask is bounded (Config): the subscriptions served at once, the size of
// request and response messages, the size of a filter and what evaluating it on one record may
// cost (refused when it compiles if CEL's estimate is over the limit, stopped when it runs if
// a record costs more all the same). A subscription reads the ring at its own pace and holds
// no more than one read of it and one message: appending to the ring never waits for a
// subscriber, and one that falls further behind than the ring holds is told in its stream how
// many records it lost. Stats counts what the limits refused and what subscribers lost.
package service
