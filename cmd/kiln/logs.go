package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/container"
)

func newLogsCommand(g *globals) *cobra.Command {
	var follow, timestamps bool
	var tail string
	c := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Show a container's output",
		Args:  exactArgs(1, "CONTAINER"),
		RunE: func(c *cobra.Command, args []string) error {
			n := -1
			if tail != "all" {
				v, err := strconv.Atoi(tail)
				if err != nil || v < 0 {
					return fmt.Errorf("logs --tail %q: want a number of lines or \"all\"", tail)
				}
				n = v
			}
			_, ctr, err := g.getContainer(args[0])
			if err != nil {
				return err
			}
			return showLogs(ctr, n, follow, timestamps)
		},
	}
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing output until the container stops")
	c.Flags().StringVarP(&tail, "tail", "n", "all", "show this many lines from the end")
	c.Flags().BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	return c
}

func showLogs(ctr *container.Container, tail int, follow, timestamps bool) error {
	print := func(e container.LogEntry) error {
		w := os.Stdout
		if e.Stream == "stderr" {
			w = os.Stderr
		}
		if timestamps {
			fmt.Fprint(w, e.Time.Format(time.RFC3339Nano)+" ")
		}
		_, err := io.WriteString(w, e.Log)
		return err
	}
	f, err := os.Open(ctr.LogPath())
	if errors.Is(err, os.ErrNotExist) {
		if !follow {
			return nil // never started: no output yet
		}
	} else if err != nil {
		return fmt.Errorf("logs of %s: %w", ctr.Config.Name, err)
	}
	var off int64
	if f != nil {
		defer f.Close()
		var entries []container.LogEntry
		off, err = container.ReadLog(f, func(e container.LogEntry) error {
			entries = append(entries, e)
			if tail >= 0 && len(entries) > tail {
				entries = entries[1:]
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("logs of %s: %w", ctr.Config.Name, err)
		}
		for _, e := range entries {
			if err := print(e); err != nil {
				return err
			}
		}
	}
	for follow {
		// Checked before reading, so the output written before the exit
		// is read after it.
		settled := true
		if err := ctr.Reload(); err == nil {
			settled = ctr.Settled()
		}
		if f == nil {
			if f, err = os.Open(ctr.LogPath()); err == nil {
				defer f.Close()
			}
		}
		if f != nil {
			if _, err := f.Seek(off, io.SeekStart); err != nil {
				return err
			}
			n, err := container.ReadLog(f, print)
			off += n
			if err != nil {
				return err
			}
		}
		if settled {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}
