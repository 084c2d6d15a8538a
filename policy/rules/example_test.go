// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package rules_test

import (
	"fmt"

	"github.com/sysflux/sysflux/policy/rules"
)

func Example() {
	l := rules.NewLoader()
	l.Load("base.yaml", []byte(`
- list: shell_binaries
  items: [bash, sh, zsh]
- macro: spawned_process
  condition: evt.type in (execve, execveat) and evt.dir = <
- rule: Shell spawned
  desc: A shell was started.
  condition: spawned_process and proc.name in (shell_binaries)
  output: Shell started (command=%proc.cmdline)
  priority: NOTICE
`))
	l.Load("local.yaml", []byte(`
- list: shell_binaries
  items: [fish]
  override:
    items: append
- rule: Shell spawned
  exceptions:
    - name: ssh
      fields: [proc.pname, user.name]
      values: [[sshd, root]]
  override:
    exceptions: append
`))
	set, err := l.Compile()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range set.Rules {
		fmt.Printf("%s (%s): %s\n", r.Name, r.Priority, r.Condition)
	}
	// Output:
	// Shell spawned (Notice): ((evt.type in (execve, execveat) and evt.dir = <) and proc.name in (bash, sh, zsh, fish)) and not (proc.pname = sshd and user.name = root)
}

func ExampleErrorList() {
	l := rules.NewLoader()
	l.Load("rules.yaml", []byte(`
- rule: Shell spawned
  desc: A shell was started.
  condition: >
    spawned_process
    and proc.name in (bash, sh
  output: Shell started
  priority: NOTICE
- rule: Other
  desc: d
  condition: container and proc.name = sh
  output: o
  priority: Urgent
`))
	_, err := l.Compile()
	fmt.Println(err)
	// Output:
	// rules.yaml:13:13: rule "Other": Invalid priority
	// rules.yaml:6:31: rule "Shell spawned": expected a ')' token
}
