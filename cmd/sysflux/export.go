package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/protobuf/types/known/durationpb"

	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
)

// maxExportFiles bounds the file indexes an export accepts from a hub.
const maxExportFiles = 1 << 20

func newExportCommand(logs *logFlags) *cobra.Command {
	var (
		addr        string
		sec         clientFlags
		sel         storeFlags
		output      string
		maxSize     string
		maxDuration string
		exporter    string
	)
	cmd := &cobra.Command{
		Use:   "export -o FILE.sf",
		Short: "Write the records a hub has stored to SysFlow files",
		Long: `export asks a hub with a store for the records that match, and writes them as SysFlow
Avro files (schema version 5) that SysFlow's tools read: one node per file, each file
with its own header and every entity before the first record that references it.

The hub starts a new file for each node, and with --max-file-size or --max-file-duration
whenever a file grows past that size or time span. When the export makes one file, it
is written to FILE exactly. When it makes several, each is written to FILE with its
index inserted before the extension, counting from 0 in the order the files start:
out.sf becomes out.0.sf, out.1.sf, ...; a FILE without an extension gets the index at
the end (out becomes out.0, out.1). Existing files of those names are replaced.

Every file is written to a hidden temporary file in FILE's directory first and renamed
into place only once the hub has sent the whole export: an interrupted or failed export
leaves no file under the final names. The files written are listed on the standard
output, one a line, with their node, the time of their first record and their size.

On a terminal, a progress bar on the standard error shows the part of the time range
covered and the records written. A summary line on the standard error ends every
export: files, records (entities and headers included), records skipped because SysFlow
v5 cannot hold them (such as IPv6 flows), bytes.

--since and --until take RFC 3339 (2026-11-29T10:00:00Z), a date (2026-11-29, midnight
UTC), "now", Unix seconds (1700000000, 1700000000.25) or nanoseconds (digits from 1e17
on), or a duration before now (90s, 15m, 2h30m, 7d, 1d12h).`,
		Example: `  sysflux export --hub 127.0.0.1:7700 --since 1h -o last-hour.sf
  sysflux export --node node-a --since 2026-11-29 --until 2026-11-30 -o node-a.sf --max-file-duration 1h
  sysflux export --type process_event,file_flow --filter 'fd.name startswith /etc' -o etc.sf
  sysflux export --max-file-size 100MiB -o all.sf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger()
			if err != nil {
				return err
			}
			s, err := sel.selection(cmd, time.Now())
			if err != nil {
				return err
			}
			if output == "" {
				return usageError("-o: give the file to write, e.g. -o out.sf")
			}
			if fi, err := os.Stat(output); err == nil && fi.IsDir() {
				return usageError("-o: %s is a directory; give a file name", output)
			}
			if fi, err := os.Stat(filepath.Dir(output)); err != nil || !fi.IsDir() {
				return usageError("-o: directory %s does not exist", filepath.Dir(output))
			}
			size, err := humanize.ParseBytes(maxSize)
			if err != nil {
				return usageError("--max-file-size: %v", err)
			}
			if size > math.MaxInt64 {
				return usageError("--max-file-size: %s is too large", maxSize)
			}
			req := &hubv1.ExportRequest{
				StartTime: s.start, EndTime: s.end, NodeIds: s.nodes, RecordTypes: s.types,
				Filter: s.filter, FilterLanguage: s.lang, MaxFileBytes: int64(size), Exporter: exporter,
			}
			if maxDuration != "" {
				d, err := parseDuration(maxDuration)
				switch {
				case err != nil:
					return usageError("--max-file-duration: %q is not a duration (90s, 15m, 1h, 7d)", maxDuration)
				case d < 0:
					return usageError("--max-file-duration: %q is negative", maxDuration)
				case d > 0:
					req.MaxFileDuration = durationpb.New(d)
				}
			}
			c, closeConn, err := dialHub(addr, &sec, log)
			if err != nil {
				return err
			}
			defer closeConn()

			files := &exportFiles{output: output, byIndex: map[int32]*exportFile{}}
			defer files.discard()
			progress := newExportProgress(cmd.ErrOrStderr())
			defer progress.clear()
			stream, err := c.Export(cmd.Context(), req)
			if err != nil {
				return exportError(cmd, addr, s, err)
			}
			var summary *hubv1.ExportSummary
			for {
				resp, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return exportError(cmd, addr, s, err)
				}
				if summary != nil {
					return fmt.Errorf("hub %s sent more after the export's summary: no file written", addr)
				}
				switch item := resp.GetItem().(type) {
				case *hubv1.ExportResponse_Chunk:
					if err := files.write(item.Chunk); err != nil {
						return fmt.Errorf("export from hub %s: %w; no file written", addr, err)
					}
				case *hubv1.ExportResponse_Progress:
					progress.update(item.Progress, files.bytes)
				case *hubv1.ExportResponse_Summary:
					summary = item.Summary
				}
			}
			if summary == nil {
				return fmt.Errorf("hub %s ended the export without its summary: no file written", addr)
			}
			if int(summary.GetFiles()) != len(files.byIndex) || summary.GetWrittenBytes() != files.bytes {
				return fmt.Errorf("hub %s says it wrote %s in %s, but sent %s in %s: no file written", addr,
					countOf(summary.GetWrittenBytes(), "byte"), countOf(int64(summary.GetFiles()), "file"),
					countOf(files.bytes, "byte"), countOf(int64(len(files.byIndex)), "file"))
			}
			names, err := files.commit()
			if err != nil {
				return err
			}
			progress.clear()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 2, ' ', 0)
			for i, idx := range files.order {
				f := files.byIndex[idx]
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", names[i], orDash(f.node), formatTime(f.start), humanize.IBytes(uint64(f.bytes)))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exported %s, %s, %s skipped, %s; the hub read %s\n",
				countOf(int64(summary.GetFiles()), "file"), countOf(summary.GetWrittenRecords(), "record"),
				humanize.Comma(summary.GetSkippedRecords()), humanize.IBytes(uint64(summary.GetWrittenBytes())),
				countOf(summary.GetScannedRecords(), "stored record"))
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "hub", "127.0.0.1:7700", "hub address HOST:PORT")
	sec.register(cmd)
	sel.register(cmd, "export")
	cmd.Flags().StringVarP(&output, "output", "o", "", "the SysFlow file to write; several files get an index before the extension (required)")
	cmd.Flags().StringVar(&maxSize, "max-file-size", "0", "start a new file once a file holds about this many bytes, e.g. 100MiB (0: never)")
	cmd.Flags().StringVar(&maxDuration, "max-file-duration", "", "start a new file once a file spans this much record time, e.g. 1h, 1d (empty or 0: never)")
	cmd.Flags().StringVar(&exporter, "exporter", "", "the exporter named in each file's header (empty: the hub's name)")
	return cmd
}

// exportError is storeError for Export, after a user's interrupt has been told apart.
func exportError(cmd *cobra.Command, addr string, s *storeSelection, err error) error {
	if cmd.Context().Err() != nil {
		return errors.New("export interrupted: no file written")
	}
	return storeError(addr, "export", s.filterFlag, err)
}

// exportFiles are the files of an export being written, each under a temporary name.
type exportFiles struct {
	output  string
	byIndex map[int32]*exportFile
	order   []int32 // file indexes in the order the files started
	bytes   int64   // over all files
	done    bool
}

// exportFile is one file of an export.
type exportFile struct {
	tmp   *os.File
	w     *bufio.Writer
	node  string
	start int64 // time of the first record, ns
	bytes int64
}

// write appends a chunk to its file, creating the file at its first chunk.
func (x *exportFiles) write(c *hubv1.ExportChunk) error {
	idx := c.GetFileIndex()
	if idx < 0 || idx >= maxExportFiles {
		return fmt.Errorf("a chunk of file %d", idx)
	}
	f := x.byIndex[idx]
	if f == nil {
		tmp, err := os.CreateTemp(filepath.Dir(x.output), "."+filepath.Base(x.output)+".*.partial")
		if err != nil {
			return err
		}
		f = &exportFile{tmp: tmp, w: bufio.NewWriterSize(tmp, 1<<20), node: c.GetNodeId()}
		if t := c.GetFileStartTime(); t != nil {
			f.start = t.AsTime().UnixNano()
		}
		x.byIndex[idx] = f
		x.order = append(x.order, idx)
	}
	if _, err := f.w.Write(c.GetData()); err != nil {
		return fmt.Errorf("write %s: %w", f.tmp.Name(), err)
	}
	f.bytes += int64(len(c.GetData()))
	x.bytes += int64(len(c.GetData()))
	return nil
}

// names returns the final name of each file, in the order of x.order: the output itself for
// one file, else the output with the file's index before the extension.
func (x *exportFiles) names() []string {
	if len(x.order) == 1 {
		return []string{x.output}
	}
	dir, base := filepath.Split(x.output)
	ext := filepath.Ext(base)
	if ext == base {
		ext = "" // a name such as ".sf" is all stem
	}
	stem := strings.TrimSuffix(base, ext)
	out := make([]string, len(x.order))
	for i, idx := range x.order {
		out[i] = dir + fmt.Sprintf("%s.%d%s", stem, idx, ext)
	}
	return out
}

// commit writes every file to disk and renames it into place; it returns the final names, in
// the order of x.order.
func (x *exportFiles) commit() ([]string, error) {
	slices.Sort(x.order)
	for _, idx := range x.order {
		f := x.byIndex[idx]
		if err := f.w.Flush(); err != nil {
			return nil, fmt.Errorf("write %s: %w; no file written", f.tmp.Name(), err)
		}
		if err := f.tmp.Sync(); err != nil {
			return nil, fmt.Errorf("write %s: %w; no file written", f.tmp.Name(), err)
		}
		if err := f.tmp.Chmod(0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w; no file written", f.tmp.Name(), err)
		}
	}
	names := x.names()
	for i, idx := range x.order {
		f := x.byIndex[idx]
		if err := f.tmp.Close(); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.tmp.Name(), err)
		}
		if err := os.Rename(f.tmp.Name(), names[i]); err != nil {
			return nil, fmt.Errorf("%w (%s written before it)", err, countOf(int64(i), "file"))
		}
		f.tmp, f.w = nil, nil // in place: not to be discarded
	}
	x.done = true
	return names, nil
}

// discard removes the temporary files of an export that did not complete.
func (x *exportFiles) discard() {
	if x.done {
		return
	}
	for _, f := range x.byIndex {
		if f.tmp != nil {
			f.tmp.Close()
			os.Remove(f.tmp.Name())
		}
	}
}

// exportProgress shows an export's progress as a bar on a terminal, and nothing elsewhere.
type exportProgress struct {
	bar  *progressbar.ProgressBar
	last time.Time
}

// progressSteps is the resolution of the bar: the part of the time range covered, in 1/1000.
const progressSteps = 1000

func newExportProgress(w io.Writer) *exportProgress {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return &exportProgress{}
	}
	return &exportProgress{bar: progressbar.NewOptions64(progressSteps,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("exporting"),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
	)}
}

// update shows how far the export got: the part of its time range covered, the records
// written, the bytes received.
func (p *exportProgress) update(pr *hubv1.ExportProgress, bytes int64) {
	if p.bar == nil || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	start, end, at := pr.GetStartTime().AsTime(), pr.GetEndTime().AsTime(), pr.GetTime().AsTime()
	frac := 1.0
	if span := end.Sub(start); span > 0 {
		frac = min(max(float64(at.Sub(start))/float64(span), 0), 1)
	}
	desc := humanize.Comma(pr.GetWrittenRecords()) + " records"
	if bytes > 0 {
		desc += ", " + humanize.IBytes(uint64(bytes))
	}
	p.bar.Describe(desc)
	p.bar.Set64(int64(frac * progressSteps))
}

// clear removes the bar from the terminal.
func (p *exportProgress) clear() {
	if p.bar == nil {
		return
	}
	p.bar.Clear()
	p.bar.Exit()
	p.bar = nil
}
