package field_test

import (
	"strings"
	"testing"

	"github.com/sysflux/sysflux/policy/field"
)

// k8sEvent is shaped as the messages of the Kubernetes events in SysFlow's traces
// (sfprocessor_k8s_small.sf), with a second pod, and ends as they do with a newline and a NUL.
const k8sEvent = `{"apiVersion":"v1","items":[` +
	`{"containerStatuses":[{"containerID":"docker://942c80fd11ea","image":"robotshop/rs-user:latest","lastState":{},"name":"user","ready":true,"restartCount":0,"started":true,"state":{"running":{"startedAt":"2022-03-17T18:49:58Z"}}}],` +
	`"containers":[{"image":"robotshop/rs-user:latest","imagePullPolicy":"IfNotPresent","name":"user","ports":[{"containerPort":8080,"protocol":"TCP"}],` +
	`"volumeMounts":[{"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","name":"kube-api-access-52s9v","readOnly":true}]}],` +
	`"hostIP":"192.168.59.100","initContainerStatuses":null,"labels":{"pod-template-hash":"899b6c7ff", "service":"user"},` +
	`"name":"user-899b6c7ff-c7wnj","namespace":"robot-shop","nodeName":"minikube","phase":"Running","podIP":"172.17.0.6","timestamp":"2022-03-17T18:49:42Z","uid":"6fad1f36-b37f-4a98-bddb-ab97841edf1e"},` +
	`{"containerStatuses":null,"containers":[{"image":"registry.k8s.io/coredns/coredns:v1.8.6","name":"coredns","ports":[{"containerPort":53,"protocol":"UDP"},{"containerPort":9153,"protocol":"TCP"}]}],` +
	`"hostIP":null,"initContainerStatuses":null,"labels":{"app.kubernetes.io/name":"coredns","k8s-app":"kube-dns"},` +
	`"name":"coredns-64897985d-x2mzl","namespace":"kube-system","nodeName":"minikube","phase":"Pending","podIP":null,"timestamp":"2022-03-17T19:15:03Z","uid":"b9b1554b-a07d-42d9-bcb6-54d941a51b01"}` +
	`],"kind":"Pod","type":"MODIFIED"}` + "\n\x00"

// Values at JSON paths are those gjson's String gives, which SysFlow's policy engine compares.
func TestJSONPathValue(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		want       string
		ok         bool
	}{
		{"top-level key", "kind", "Pod", true},
		{"array index", "items.0.namespace", "robot-shop", true},
		{"nested arrays", "items.0.containers.0.ports.0.containerPort", "8080", true},
		{"boolean", "items.0.containerStatuses.0.ready", "true", true},
		{"null", "items.1.hostIP", "", true},
		{"object as written", "items.0.labels", `{"pod-template-hash":"899b6c7ff", "service":"user"}`, true},
		{"escaped dots", `items.1.labels.app\.kubernetes\.io/name`, "coredns", true},
		{"array length", "items.#", "2", true},
		{"each element", "items.#.namespace", `["robot-shop","kube-system"]`, true},
		{"wildcard *", "items.0.labels.pod-*", "899b6c7ff", true},
		{"wildcard ?", "items.1.lab?ls.k8s-app", "kube-dns", true},
		{"query", `items.#(namespace=="kube-system").name`, "coredns-64897985d-x2mzl", true},
		{"query for all", `items.#(phase!="Running")#.name`, `["coredns-64897985d-x2mzl"]`, true},
		{"query with a pattern", `items.#(name%"user-*").podIP`, "172.17.0.6", true},
		{"nested query", `items.#(containers.#(ports.#(protocol=="UDP"))).namespace`, "kube-system", true},
		{"modifier", "items.0.labels.@keys", `["pod-template-hash","service"]`, true},
		{"multipath", "[items.0.name,items.0.namespace]", `["user-899b6c7ff-c7wnj","robot-shop"]`, true},
		{"whole document, without its NUL", "@valid.kind", "Pod", true},
		{"index past the end", "items.2.namespace", "", false},
		{"key on an array", "items.x", "", false},
		{"key on a string", "kind.x", "", false},
		{"absent key", "nothing", "", false},
		{"negative index", "items.-1", "", false},
		{"query matching nothing", `items.#(namespace=="default").name`, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := field.CheckJSONPath(tc.path); err != nil {
				t.Fatalf("CheckJSONPath(%q): %v", tc.path, err)
			}
			got, ok := field.JSONPathValue(k8sEvent, tc.path)
			if got != tc.want || ok != tc.ok {
				t.Errorf("JSONPathValue(k8sEvent, %q) = %q, %v; want %q, %v", tc.path, got, ok, tc.want, tc.ok)
			}
		})
	}
	if got, ok := field.JSONPathValue("not json", "a"); ok {
		t.Errorf("JSONPathValue(%q, %q) = %q, true; want no value", "not json", "a", got)
	}
}

func TestCheckJSONPathErrors(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"", "empty JSON path"},
		{"a.", "empty key"},
		{".a", "empty key"},
		{"items..name", "empty key"},
		{"a|", "empty key"},
		{`a\`, "ends with a backslash"},
		{`items.#(namespace=="robot-shop"`, `unclosed '('`},
		{`items.#(namespace=="robot-shop).name`, "unclosed string"},
		{`items.#(namespace=="robot-shop")).name`, `unpaired ')'`},
		{`items.#(namespace=="robot-shop"].name`, `unpaired ']'`},
		{"[items.0.name,kind", `unclosed '['`},
		{"{kind", `unclosed '{'`},
		{"a]", `unpaired ']'`},
	} {
		err := field.CheckJSONPath(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckJSONPath(%q) = %v, want an error saying %q", tc.path, err, tc.want)
		}
	}
	// A key holding a bracket or a quote escapes it, as gjson reads it.
	for _, p := range []string{`a\(b`, `a\]`, `say\"hi`} {
		if err := field.CheckJSONPath(p); err != nil {
			t.Errorf("CheckJSONPath(%q): %v", p, err)
		}
	}
	if got, ok := field.JSONPathValue(`{"a(b":1,"a]":2}`, `a\]`); got != "2" || !ok {
		t.Errorf(`JSONPathValue(..., "a\]") = %q, %v; want "2", true`, got, ok)
	}
}
