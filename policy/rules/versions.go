// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

func (r *reader) readEngineVersion(item *yaml.Node) *Error {
	c := itemCtx{kind: "required_engine_version"}
	s, n, err := r.value(item, "required_engine_version", c)
	if err != nil {
		return err
	}
	v, ok := parseEngineVersion(s)
	if !ok {
		return r.fail(n, c, "Unable to parse engine version '%s' as a semver string. Expected \"x.y.z\" semver format.", s)
	}
	if r.l.engineVersion == nil || r.l.engineVersion.less(v) {
		r.l.engineVersion = &v
	}
	return nil
}

func (r *reader) readPluginVersions(item *yaml.Node) *Error {
	c := itemCtx{kind: "required_plugin_versions"}
	seq := deref(lookup(item, "required_plugin_versions"))
	if seq.Kind != yaml.SequenceNode {
		return r.fail(seq, c, "Value of required_plugin_versions must be a sequence")
	}
	for _, p := range seq.Content {
		p = deref(p)
		req, err := r.readPluginVersion(p, c, "Plugin version must be a mapping")
		if err != nil {
			return err
		}
		pc := itemCtx{kind: "required plugin", name: req.Name}
		names := map[string]bool{req.Name: true}
		if alts := deref(lookup(p, "alternatives")); alts != nil {
			if alts.Kind != yaml.SequenceNode {
				return r.fail(alts, pc, "Value of plugin version alternatives must be a sequence")
			}
			for _, a := range alts.Content {
				alt, err := r.readPluginVersion(deref(a), pc, "Plugin version alternative must be a mapping")
				if err != nil {
					return err
				}
				if names[alt.Name] {
					return r.fail(a, pc, "Defined multiple alternative version requirements for plugin '%s'", alt.Name)
				}
				names[alt.Name] = true
				req.Alternatives = append(req.Alternatives, alt)
			}
		}
		r.l.plugins = append(r.l.plugins, req)
		r.warn(p, pc, "plugin requirement not checked: sysflux loads no plugins")
	}
	return nil
}

func (r *reader) readPluginVersion(n *yaml.Node, c itemCtx, notMapping string) (PluginRequirement, *Error) {
	if n.Kind != yaml.MappingNode {
		return PluginRequirement{}, r.fail(n, c, "%s", notMapping)
	}
	name, _, err := r.value(n, "name", c)
	if err != nil {
		return PluginRequirement{}, err
	}
	version, vn, err := r.value(n, "version", itemCtx{kind: "required plugin", name: name})
	if err != nil {
		return PluginRequirement{}, err
	}
	if _, ok := parseSemver(version); !ok {
		return PluginRequirement{}, r.fail(vn, c, "Invalid required version '%s' for plugin '%s'", version, name)
	}
	return PluginRequirement{Name: name, Version: version}, nil
}

// semver is a version as x.y.z.
type semver [3]uint64

func parseSemver(s string) (semver, bool) {
	var v semver
	core, _, _ := strings.Cut(s, "-") // pre-release and build parts are not compared
	core, _, _ = strings.Cut(core, "+")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

// engineVersion is a required_engine_version: "x.y.z", or a bare number N, which Falco reads
// as 0.N.0.
type engineVersion struct {
	text string
	v    semver
}

func parseEngineVersion(s string) (engineVersion, bool) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return engineVersion{text: fmt.Sprintf("0.%d.0", n), v: semver{0, n, 0}}, true
	}
	v, ok := parseSemver(s)
	return engineVersion{text: s, v: v}, ok
}

func (e engineVersion) less(o engineVersion) bool { return slices.Compare(e.v[:], o.v[:]) < 0 }
