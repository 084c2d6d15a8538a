package flow

import (
	"path/filepath"

	"google.golang.org/protobuf/proto"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// fileOpFlags maps file operations to SysFlow's operation flags.
var fileOpFlags = map[FileOp]sysflowv1.OperationFlag{
	FileOpMkdir:   sysflowv1.OperationFlag_OPERATION_FLAG_MKDIR,
	FileOpRmdir:   sysflowv1.OperationFlag_OPERATION_FLAG_RMDIR,
	FileOpLink:    sysflowv1.OperationFlag_OPERATION_FLAG_LINK,
	FileOpUnlink:  sysflowv1.OperationFlag_OPERATION_FLAG_UNLINK,
	FileOpSymlink: sysflowv1.OperationFlag_OPERATION_FLAG_SYMLINK,
	FileOpRename:  sysflowv1.OperationFlag_OPERATION_FLAG_RENAME,
	FileOpChmod:   sysflowv1.OperationFlag_OPERATION_FLAG_CHMOD,
	FileOpChown:   sysflowv1.OperationFlag_OPERATION_FLAG_CHOWN,
	// Only truncate(2) makes a FileEvent: ftruncate(2) marks the descriptor's flow.
	FileOpTruncate: sysflowv1.OperationFlag_OPERATION_FLAG_TRUNCATE,
}

// fileOp handles KindFileOp: a FileEvent on the file (and for link, symlink and rename the
// second file), with the call's return code; failed calls are kept, as SysFlow keeps them.
// For link and rename the file is the old name and the second file the new one; for symlink
// the file is the link's target (resolved against the link's directory when relative) and the
// second file the link.
func (a *Aggregator) fileOp(ev *Event) {
	op, ok := fileOpFlags[ev.Op]
	if !ok {
		a.stats.UnknownKinds++
		return
	}
	ps := a.process(ev.PID, ev.StartTime, ev, nil)
	cid := a.container(ps)
	restype := int32('f')
	if ev.Op == FileOpMkdir || ev.Op == FileOpRmdir {
		restype = 'd'
	}
	at := func(dirfd int32, p string) *fileInfo {
		dir := ps.sent.GetCwd()
		if dirfd > 0 {
			dir = a.dirPath(ps, dirfd)
		}
		p = resolvePath(p, dir)
		return &fileInfo{oid: FileOID(cid, p), path: p, container: cid, restype: restype, ts: ev.Time}
	}
	if ev.Op == FileOpTruncate && ev.Path == "" {
		if ev.Ret >= 0 {
			a.mark(ev, int32(op))
		}
		return
	}
	var file, second *fileInfo
	switch {
	case ev.Path == "" && ev.FD >= 0: // fchmod, fchown
		f := ps.flows[ev.FD]
		if f == nil || f.file == nil {
			a.stats.UnknownFDs++
			return
		}
		file = f.file
	case ev.Op == FileOpSymlink:
		second = at(ev.NewDirFD, ev.NewPath)
		target := ev.Path
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(second.path), target)
		}
		file = at(0, target)
	default:
		file = at(ev.DirFD, ev.Path)
		if ev.NewPath != "" {
			second = at(ev.NewDirFD, ev.NewPath)
		}
	}
	a.sendFileInfo(file, false)
	fe := &sysflowv1.FileEvent{
		ProcOid: proto.CloneOf(ps.oid),
		Ts:      ev.Time,
		Tid:     int64(ev.TID),
		OpFlags: int32(op),
		FileOid: append([]byte(nil), file.oid[:]...),
		Ret:     int32(ev.Ret),
	}
	if second != nil {
		a.sendFileInfo(second, false)
		fe.NewFileOid = append([]byte(nil), second.oid[:]...)
	}
	a.emit(&sysflowv1.Record{Rec: &sysflowv1.Record_FileEvent{FileEvent: fe}})
}
