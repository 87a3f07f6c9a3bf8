package main

import "testing"

func TestDecimalSize(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{
		{0, "0B"},
		{648, "648B"},
		{999, "999B"},
		{1000, "1kB"},
		{1234, "1.23kB"},
		{1500, "1.5kB"},
		{12345, "12.3kB"},
		{123456, "123kB"},
		{4_100_000, "4.1MB"},
		{20 << 20, "21MB"},
		{20_000_000, "20MB"},
		// Rounding to 3 digits carries into the next unit: 1MB, where
		// go-units writes 1e+03kB.
		{999_999, "1MB"},
		{999_499, "999kB"},
		{3_000_000_000, "3GB"},
		{1 << 40, "1.1TB"},
		{^uint64(0), "18.4EB"},
	} {
		if got := decimalSize(tc.n); got != tc.want {
			t.Errorf("decimalSize(%d): got %q, want %q", tc.n, got, tc.want)
		}
	}
}
