// Package auth checks the callers of a hub's public API: bearer tokens from a tokens file,
// each with scopes and a rate limit, enforced by a connect-go interceptor on unary and
// streaming calls alike.
//
// Scopes: read allows HubService (Subscribe, Query, GetProvenance, Export, ListAgents) and
// PolicyService's ValidateRules and ListRules; admin allows everything, PutRules and
// DeleteRules among it. A procedure the package does not know needs admin, so that an RPC
// added later is closed until it is given a scope here. gRPC health checks and gRPC server
// reflection are open: probes carry no token, and reflection describes only the public schema
// (proto/), while every RPC it describes still needs a token.
//
// A call without a token, or with one the file does not hold, fails with Unauthenticated; a
// token without the scope a call needs fails with PermissionDenied; a token over its rate
// fails with ResourceExhausted. Every refusal is logged with the procedure, the caller's
// address and the token's name, never the token.
package auth
