// Package sysflux is the Go client of a sysflux hub's public API: sysflux.hub.v1.HubService
// (Subscribe, Query, ListAgents) and sysflux.policy.v1.PolicyService (the rules in force).
//
// [Dial] opens a gRPC client connection to a hub; by default it speaks plain gRPC over HTTP/2
// cleartext, the hub's h2c port serving gRPC, gRPC-Web and Connect alike. [Client.Subscribe]
// returns a [Subscription] that reconnects by itself: it remembers the position of the last
// record it delivered for each agent and, when the stream fails with a retryable error, opens a
// new one that resumes after those positions. The caller thus sees every record once and in
// per-agent order, across network failures and hub restarts.
//
// A short example:
//
//	c, err := sysflux.Dial(ctx, "127.0.0.1:7700", sysflux.WithToken(token))
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	sub := c.Subscribe(ctx, &hubv1.SubscribeRequest{
//		RecordTypes: []sysflowv1.RecordType{sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW},
//	})
//	defer sub.Close()
//	for sub.Next() {
//		r := sub.Record()
//		fmt.Println(r.GetAgentId(), r.GetSeq(), r.GetFileFlow().GetNumWSendBytes())
//	}
//	if err := sub.Err(); err != nil && !errors.Is(err, context.Canceled) {
//		return err
//	}
//
// With Go 1.23 range-over-func, [Client.All] does the same in one loop:
//
//	for r, err := range c.All(ctx, req) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(r.GetAgentId(), r.GetSeq())
//	}
//
// [Client.Query] and [Client.QueryPages] page through stored records as iterators, and
// [Client.PushRules] puts a Falco rules file in force:
//
//	for r, err := range c.Query(ctx, &hubv1.QueryRequest{Filter: "proc.name = curl", StartTime: since}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(sysflux.Summary(r))
//	}
//	if _, err := c.PushRules(ctx, "my_rules.yaml"); err != nil {
//		return err // a *sysflux.Error whose Rules give file, line and column
//	}
//
// Errors from the hub are [*Error]s: they name the call and the hub, say in words what went wrong
// ("the hub cannot be reached: connection refused", "the hub wants a valid bearer token"), carry
// the line and column of a refused filter or rules file, and keep their gRPC status
// ([google.golang.org/grpc/status.FromError] and [google.golang.org/grpc/status.Code] see
// through them).
package sysflux
