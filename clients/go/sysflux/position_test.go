package sysflux

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

func rec(agent string, epoch, seq int64) *sysflowv1.Record {
	return &sysflowv1.Record{AgentId: agent, Epoch: epoch, Seq: seq}
}

func pos(agent string, epoch, seq int64) *sysflowv1.Position {
	return &sysflowv1.Position{AgentId: agent, Epoch: epoch, Seq: seq}
}

func equalPositions(a, b []*sysflowv1.Position) bool {
	return slices.EqualFunc(a, b, func(x, y *sysflowv1.Position) bool { return proto.Equal(x, y) })
}

func TestPositionsAdvance(t *testing.T) {
	tests := []struct {
		name   string
		start  []*sysflowv1.Position
		recs   []*sysflowv1.Record
		want   []bool
		wantPs []*sysflowv1.Position
	}{
		{
			name:   "new agent starts anywhere",
			recs:   []*sysflowv1.Record{rec("a", 3, 7)},
			want:   []bool{true},
			wantPs: []*sysflowv1.Position{pos("a", 3, 7)},
		},
		{
			name:   "in order",
			recs:   []*sysflowv1.Record{rec("a", 1, 1), rec("a", 1, 2), rec("a", 1, 3)},
			want:   []bool{true, true, true},
			wantPs: []*sysflowv1.Position{pos("a", 1, 3)},
		},
		{
			name:   "repeat and older seq dropped",
			recs:   []*sysflowv1.Record{rec("a", 1, 5), rec("a", 1, 5), rec("a", 1, 4), rec("a", 1, 6)},
			want:   []bool{true, false, false, true},
			wantPs: []*sysflowv1.Position{pos("a", 1, 6)},
		},
		{
			name:   "gap accepted",
			recs:   []*sysflowv1.Record{rec("a", 1, 1), rec("a", 1, 10)},
			want:   []bool{true, true},
			wantPs: []*sysflowv1.Position{pos("a", 1, 10)},
		},
		{
			name:   "new epoch restarts seq",
			recs:   []*sysflowv1.Record{rec("a", 1, 900), rec("a", 2, 1), rec("a", 1, 901)},
			want:   []bool{true, true, false},
			wantPs: []*sysflowv1.Position{pos("a", 2, 1)},
		},
		{
			name:   "agents independent",
			recs:   []*sysflowv1.Record{rec("b", 1, 5), rec("a", 1, 1), rec("b", 1, 5), rec("a", 1, 2)},
			want:   []bool{true, true, false, true},
			wantPs: []*sysflowv1.Position{pos("a", 1, 2), pos("b", 1, 5)},
		},
		{
			name:   "resume_after is the starting point",
			start:  []*sysflowv1.Position{pos("a", 2, 10)},
			recs:   []*sysflowv1.Record{rec("a", 2, 10), rec("a", 1, 50), rec("a", 2, 11)},
			want:   []bool{false, false, true},
			wantPs: []*sysflowv1.Position{pos("a", 2, 11)},
		},
		{
			name:   "unpassed resume_after kept",
			start:  []*sysflowv1.Position{pos("z", 1, 1)},
			recs:   []*sysflowv1.Record{rec("a", 1, 1)},
			want:   []bool{true},
			wantPs: []*sysflowv1.Position{pos("a", 1, 1), pos("z", 1, 1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPositions()
			p.merge(tt.start)
			for i, r := range tt.recs {
				if got := p.advance(r); got != tt.want[i] {
					t.Errorf("advance(%v) #%d = %t, want %t", r, i, got, tt.want[i])
				}
			}
			if got := p.list(); !equalPositions(got, tt.wantPs) {
				t.Errorf("list() = %v, want %v", got, tt.wantPs)
			}
		})
	}
}

func TestPositionsMergeKeepsLatest(t *testing.T) {
	p := newPositions()
	p.merge([]*sysflowv1.Position{pos("a", 1, 9), pos("b", 2, 3), pos("a", 1, 4), pos("b", 3, 1)})
	p.merge([]*sysflowv1.Position{pos("a", 1, 2)})
	want := []*sysflowv1.Position{pos("a", 1, 9), pos("b", 3, 1)}
	if got := p.list(); !equalPositions(got, want) {
		t.Errorf("list() = %v, want %v", got, want)
	}
}

func TestPositionsListIsACopy(t *testing.T) {
	p := newPositions()
	p.merge([]*sysflowv1.Position{pos("a", 1, 1)})
	p.list()[0].Seq = 100
	if got := p.list()[0].GetSeq(); got != 1 {
		t.Errorf("seq after changing a listed position = %d, want 1", got)
	}
}
