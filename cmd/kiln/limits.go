package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/kiln-build/kiln/container"
	"github.com/kiln-build/kiln/executor"
)

// limitFlags are the resource-limit flags of run and create, as given.
type limitFlags struct {
	memory, memorySwap, cpus string
	cpuShares, pidsLimit     int64
	ulimits                  []string
}

func addLimitFlags(fl *pflag.FlagSet, f *limitFlags) {
	fl.StringVarP(&f.memory, "memory", "m", "", "memory limit (e.g. 64m, 1g)")
	fl.StringVar(&f.memorySwap, "memory-swap", "", "memory plus swap limit, -1 for unlimited swap (default: twice --memory)")
	fl.StringVar(&f.cpus, "cpus", "", "number of CPUs (e.g. 0.5)")
	fl.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight, default 1024)")
	fl.Int64Var(&f.pidsLimit, "pids-limit", 0, "limit the number of processes (-1 for unlimited)")
	fl.StringArrayVar(&f.ulimits, "ulimit", nil, "ulimit NAME=SOFT[:HARD], e.g. nofile=1024:2048; repeatable")
}

// parse turns the flags into Limits; errors name the flag.
func (f *limitFlags) parse() (container.Limits, error) {
	var l container.Limits
	var err error
	if f.memory != "" {
		if l.Memory, err = container.ParseSize(f.memory); err != nil {
			return l, fmt.Errorf("--memory: %w", err)
		}
	}
	if f.memorySwap != "" {
		if l.MemorySwap, err = container.ParseSize(f.memorySwap); err != nil {
			return l, fmt.Errorf("--memory-swap: %w", err)
		}
	}
	if f.cpus != "" {
		if l.NanoCPUs, err = container.ParseCPUs(f.cpus); err != nil {
			return l, fmt.Errorf("--cpus: %w", err)
		}
	}
	l.CPUShares, l.PidsLimit = f.cpuShares, f.pidsLimit
	for _, u := range f.ulimits {
		rl, err := executor.ParseRlimit(u)
		if err != nil {
			return l, fmt.Errorf("--ulimit: %w", err)
		}
		l.Ulimits = append(l.Ulimits, rl)
	}
	return l, l.Validate()
}
