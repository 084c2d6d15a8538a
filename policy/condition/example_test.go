// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package condition_test

import (
	"fmt"

	"github.com/sysflux/sysflux/policy/condition"
)

func ExampleParse() {
	e, err := condition.Parse(`spawned_process and proc.name in (shell_binaries, "ba sh") and not proc.pname=sshd`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e)
	condition.Inspect(e, func(n condition.Expr) bool {
		if c, ok := n.(*condition.BinaryCheckExpr); ok {
			fmt.Printf("%s: %s %s %s\n", c.Pos(), c.Left, c.Op, c.Right)
		}
		return true
	})
	// Output:
	// spawned_process and proc.name in (shell_binaries, "ba sh") and not proc.pname = sshd
	// 1:21: proc.name in (shell_binaries, "ba sh")
	// 1:68: proc.pname = sshd
}

func ExampleParse_error() {
	_, err := condition.Parse("proc.name = bash and\n    fd.name startswith")
	fmt.Println(err)
	// Output:
	// 2:13: expected a valid check operator: one of 'exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', 'intersects', 'in', 'pmatch'
}

func ExampleRewrite() {
	e, _ := condition.Parse("container and not proc.name in (shells)")
	macros := map[string]string{"container": "container.id != host"}
	lists := map[string][]string{"shells": {"bash", "zsh"}}

	expanded, err := condition.Rewrite(e, func(n condition.Expr) (condition.Expr, error) {
		switch n := n.(type) {
		case *condition.IdentifierExpr:
			return condition.Parse(macros[n.Name])
		case *condition.ListExpr:
			var values []*condition.ValueExpr
			for _, v := range n.Values {
				for _, item := range lists[v.Value] {
					values = append(values, &condition.ValueExpr{Value: item})
				}
			}
			n.Values = values
		}
		return n, nil
	})
	fmt.Println(expanded, err)
	// Output:
	// container.id != host and not proc.name in (bash, zsh) <nil>
}
