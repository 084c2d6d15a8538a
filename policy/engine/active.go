package engine

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
)

// Active is the rule set in force: named rules files, loaded in order, and the Set they compile
// to. Changes compile the whole new list of files first and swap it in atomically only if it
// compiles: a bad change is rejected with all its errors and the running set stays. It is safe
// for concurrent use.
type Active struct {
	mu      sync.Mutex // serialises changes
	files   []File
	set     atomic.Pointer[Set]
	version atomic.Int64
	watch   chan struct{} // closed and replaced on every change
}

// NewActive compiles files and returns them as the active set.
func NewActive(files ...File) (*Active, error) {
	s, err := Load(files...)
	if err != nil {
		return nil, err
	}
	a := &Active{files: slices.Clone(files), watch: make(chan struct{})}
	a.set.Store(s)
	a.version.Store(1)
	return a, nil
}

// Set returns the set in force.
func (a *Active) Set() *Set { return a.set.Load() }

// Version counts the changes since the start, from 1.
func (a *Active) Version() int64 { return a.version.Load() }

// Files returns the files in force, in load order.
func (a *Active) Files() []File {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.files)
}

// Changed returns a channel closed at the next change.
func (a *Active) Changed() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.watch
}

// ErrUnknownFile is returned by Delete for a file name not in force.
var ErrUnknownFile = errors.New("no rules file of that name is in force")

// Put adds files, replacing those of the same name in place (others go after the files in
// force), or replaces all the files when replaceAll is set; then compiles and swaps in the
// result.
func (a *Active) Put(files []File, replaceAll bool) (*Set, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	next := slices.Clone(a.files)
	if replaceAll {
		next = nil
	}
	for _, f := range files {
		i := slices.IndexFunc(next, func(g File) bool { return g.Name == f.Name })
		if i >= 0 {
			next[i] = f
		} else {
			next = append(next, f)
		}
	}
	return a.swap(next)
}

// Delete removes the named files and swaps in what the others compile to.
func (a *Active) Delete(names ...string) (*Set, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	next := slices.Clone(a.files)
	for _, n := range names {
		i := slices.IndexFunc(next, func(g File) bool { return g.Name == n })
		if i < 0 {
			return nil, ErrUnknownFile
		}
		next = slices.Delete(next, i, i+1)
	}
	return a.swap(next)
}

func (a *Active) swap(files []File) (*Set, error) {
	s, err := Load(files...)
	if err != nil {
		return nil, err
	}
	a.files = files
	a.set.Store(s)
	a.version.Add(1)
	close(a.watch)
	a.watch = make(chan struct{})
	return s, nil
}
