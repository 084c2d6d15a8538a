// Package sysflux is the Go client of a sysflux hub's public API (sysflux.hub.v1.HubService).
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
// Errors from the hub keep their gRPC status ([google.golang.org/grpc/status.FromError] and
// [google.golang.org/grpc/status.Code] see through the wrapping) and name the hub address that
// failed, for example "subscribe to 127.0.0.1:7700: rpc error: code = Unavailable desc = ...".
package sysflux
