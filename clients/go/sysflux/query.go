package sysflux

import (
	"context"
	"iter"

	"google.golang.org/protobuf/proto"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
)

// QueryPages returns the pages of the stored records that match req, in time order, as an
// iterator: it asks for the next page with the previous page's token until the hub has no
// more. An error is yielded once, with a nil page, as the last pair. QueryPages does not modify
// req; a req.page_token continues an earlier query.
func (c *Client) QueryPages(ctx context.Context, req *hubv1.QueryRequest) iter.Seq2[*hubv1.QueryResponse, error] {
	return func(yield func(*hubv1.QueryResponse, error) bool) {
		req := proto.CloneOf(req)
		if req == nil {
			req = &hubv1.QueryRequest{}
		}
		for {
			page, err := c.hub.Query(ctx, req)
			if err != nil {
				yield(nil, c.wrap("query", err))
				return
			}
			if !yield(page, nil) || page.GetNextPageToken() == "" {
				return
			}
			req.PageToken = page.GetNextPageToken()
		}
	}
}

// Query returns the stored records that match req, in time order, over every page, as an
// iterator; see QueryPages. Use QueryPages for the entities each page's records reference.
func (c *Client) Query(ctx context.Context, req *hubv1.QueryRequest) iter.Seq2[*sysflowv1.Record, error] {
	return func(yield func(*sysflowv1.Record, error) bool) {
		for page, err := range c.QueryPages(ctx, req) {
			if err != nil {
				yield(nil, err)
				return
			}
			for _, r := range page.GetRecords() {
				if !yield(r, nil) {
					return
				}
			}
		}
	}
}
