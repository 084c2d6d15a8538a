package sysflux

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	policyv1 "github.com/sysflux/sysflux/gen/sysflux/policy/v1"
)

// Client is a connection to one hub. It is safe for concurrent use.
type Client struct {
	addr       string
	conn       *grpc.ClientConn
	hub        hubv1.HubServiceClient
	policy     policyv1.PolicyServiceClient
	log        *slog.Logger
	backoffMin time.Duration
	backoffMax time.Duration
	// connectTimeout bounds how long a subscription tries to open its first stream; 0 for ever.
	connectTimeout time.Duration
	closed         atomic.Bool
}

// Dial returns a client of the hub at addr ("host:port", or any grpc-go target). Dial does not
// wait for the hub: the connection is made in the background and by the first call, and calls
// report an unreachable hub. ctx bounds Dial itself only; it is not kept.
func Dial(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if addr == "" {
		return nil, errors.New("dial: empty hub address")
	}
	o, err := newOptions(opts...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	conn, err := grpc.NewClient(addr, o.dialOptions()...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	conn.Connect()
	return &Client{
		addr:           addr,
		conn:           conn,
		hub:            hubv1.NewHubServiceClient(conn),
		policy:         policyv1.NewPolicyServiceClient(conn),
		log:            o.logger.With("hub", addr),
		backoffMin:     o.backoffMin,
		backoffMax:     o.backoffMax,
		connectTimeout: o.connectTimeout,
	}, nil
}

// Addr returns the hub address the client was dialled with.
func (c *Client) Addr() string { return c.addr }

// Close closes the connection to the hub. Subscriptions of the client end with an error.
func (c *Client) Close() error {
	c.closed.Store(true)
	if err := c.conn.Close(); err != nil {
		return fmt.Errorf("close connection to %s: %w", c.addr, err)
	}
	return nil
}

// ListAgents returns the agents the hub reads from and how far it has read each of them.
func (c *Client) ListAgents(ctx context.Context) ([]*hubv1.AgentStatus, error) {
	resp, err := c.hub.ListAgents(ctx, &hubv1.ListAgentsRequest{})
	if err != nil {
		return nil, c.wrap("list agents of", err)
	}
	return resp.GetAgents(), nil
}
