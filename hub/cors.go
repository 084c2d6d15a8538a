// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package hub

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	connectcors "connectrpc.com/cors"
	"github.com/rs/cors"
)

// CheckCORSOrigin reports whether origin can be given to Config.CORSOrigins: "*", or a scheme
// and host with an optional port and nothing else, as a browser sends it in its Origin header.
func CheckCORSOrigin(origin string) error {
	if origin == "*" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil {
		return fmt.Errorf("origin %q: %w", origin, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("origin %q: want a scheme and host such as https://console.example.com:8443, or *", origin)
	}
	return nil
}

// withCORS lets pages of origins call h from a browser: it answers preflight requests and
// adds the response headers the Connect, gRPC-Web and gRPC-over-fetch protocols need to be
// read across origins. Bearer tokens travel in the Authorization header, which it allows; no
// cookies are involved, so credentials are not allowed. Without origins h is returned as is.
func withCORS(h http.Handler, origins []string) http.Handler {
	if len(origins) == 0 {
		return h
	}
	return cors.New(cors.Options{
		AllowedOrigins: slices.Clone(origins),
		AllowedMethods: connectcors.AllowedMethods(),
		AllowedHeaders: append(connectcors.AllowedHeaders(), "Authorization"),
		ExposedHeaders: connectcors.ExposedHeaders(),
		MaxAge:         int((2 * time.Hour).Seconds()),
	}).Handler(h)
}
