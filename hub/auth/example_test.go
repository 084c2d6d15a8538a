package auth_test

import (
	"fmt"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/sysflux/sysflux/hub/auth"
)

func ExampleParse() {
	tokens, err := auth.Parse("tokens.yaml", []byte(`
tokens:
  - name: dashboards
    # printf %s "$TOKEN" | sha256sum
    sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    scopes: [read]
    rate: 5
  - name: rules-ci
    sha256: 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752
    scopes: [admin]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range tokens.List() {
		fmt.Println(t.Name, t.Scopes, t.Rate, t.Burst)
	}
	// The interceptor goes on the API's handlers.
	_ = connect.WithInterceptors(auth.NewInterceptor(tokens, slog.Default()))
	// Output:
	// dashboards [read] 5 10
	// rules-ci [admin] 20 40
}
