package container

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// LogEntry is one line of a container's output, as Docker's json-file
// driver writes it: {"log":"hello\n","stream":"stdout","time":"…"}.
type LogEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// maxPartial is how much of a line without a newline is held before it is
// written out as an entry of its own, as Docker splits at 16 KiB.
const maxPartial = 16 << 10

// Log appends a container's output to its json-file log.
type Log struct {
	mu      sync.Mutex
	f       *os.File
	streams []*logStream
}

// OpenLog opens path for appending, creating it if missing.
func OpenLog(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return &Log{f: f}, nil
}

// Stream returns a writer whose lines become entries of stream name
// ("stdout" or "stderr").
func (l *Log) Stream(name string) io.Writer {
	s := &logStream{log: l, name: name}
	l.mu.Lock()
	l.streams = append(l.streams, s)
	l.mu.Unlock()
	return s
}

// Flush writes out every stream's pending partial line.
func (l *Log) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.streams {
		if len(s.partial) > 0 {
			l.write(s.name, s.partial)
			s.partial = nil
		}
	}
}

// Close flushes and closes the log.
func (l *Log) Close() error {
	l.Flush()
	return l.f.Close()
}

// write appends one entry; l.mu is held.
func (l *Log) write(stream string, line []byte) {
	b, err := json.Marshal(LogEntry{Log: string(line), Stream: stream, Time: time.Now().UTC()})
	if err != nil {
		return
	}
	// A log that cannot be written must not stop the container.
	_, _ = l.f.Write(append(b, '\n'))
}

type logStream struct {
	log     *Log
	name    string
	partial []byte
}

func (s *logStream) Write(p []byte) (int, error) {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	buf := append(s.partial, p...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		s.log.write(s.name, buf[:i+1])
		buf = buf[i+1:]
	}
	for len(buf) >= maxPartial {
		s.log.write(s.name, buf[:maxPartial])
		buf = buf[maxPartial:]
	}
	s.partial = append([]byte(nil), buf...)
	return len(p), nil
}

// ReadLog calls fn for each complete entry in r and returns the number of
// bytes consumed, so a follower can resume after the last whole line.
func ReadLog(r io.Reader, fn func(LogEntry) error) (int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var n int64
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			// A partial line is being written: leave it for next time.
			if err == io.EOF {
				return n, nil
			}
			return n, err
		}
		n += int64(len(line))
		var e LogEntry
		if json.Unmarshal(line, &e) != nil {
			continue
		}
		if err := fn(e); err != nil {
			return n, err
		}
	}
}
