package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newCreateCommand(g *globals) *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a container without starting it",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			c.Flags().Visit(func(fl *pflag.Flag) { f.entrypointSet = f.entrypointSet || fl.Name == "entrypoint" })
			_, ctr, err := createContainer(c.Context(), g, &f, args[0], args[1:])
			if err != nil {
				return &runtimeError{err}
			}
			fmt.Println(ctr.Config.ID)
			return nil
		},
	}
	fl := c.Flags()
	fl.SetInterspersed(false)
	addContainerFlags(fl, &f)
	fl.BoolVar(&f.rm, "rm", false, "remove the container when it exits")
	return c
}
