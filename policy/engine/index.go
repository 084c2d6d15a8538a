package engine

import (
	"slices"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// WithoutIndex returns a copy of s that checks every compiled rule against every record of the
// types rules apply to (events and flows, and any type a rule names with sf.type), whatever its
// type and operation flags, in the order of the rules. It fires the same rules as s when the
// index is sound, only slower: it is there to measure what the index saves and to check that it
// loses no match.
func (s *Set) WithoutIndex() *Set {
	var all []int
	var types []sysflowv1.RecordType
	for i, r := range s.rules {
		if r.Status != Compiled {
			continue
		}
		all = append(all, i)
		ts := r.Match.Types
		if ts == nil {
			ts = eventTypes
		}
		for _, t := range ts {
			if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
	}
	u := &Set{rules: s.rules, warnings: s.warnings, byType: map[sysflowv1.RecordType]*typeIndex{}}
	for _, t := range types {
		u.byType[t] = &typeIndex{anyFlag: all}
	}
	return u
}
