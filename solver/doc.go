// Package solver runs an llb DAG: it schedules independent vertices
// concurrently, keys every step by content, reuses cached results from the
// store, de-duplicates identical vertices, cancels everything on the first
// failure and reports progress as a stream of events.
//
// It receives the DAG from the frontend and hands the resulting layer chain
// to the exporter, which writes the image.
package solver
