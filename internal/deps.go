//go:build tools

// Package internal pins modules that packages are about to use, so helpers
// working in parallel never have to edit go.mod.
package internal

import (
	_ "github.com/ulikunitz/xz"
	_ "oras.land/oras-go/v2"
)
