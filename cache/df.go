package cache

// Usage is what uses space in the store (`kiln system df`).
type Usage struct {
	Images, BuildCache, Layers, Mounts UsageLine
}

// UsageLine is one kind of thing in the store: how many, how big, and how
// much of that Prune with All would free.
type UsageLine struct {
	Count       int
	Size        int64
	Reclaimable int64
}

// DiskUsage scans the store. Sizes are apparent sizes of files; a layer is
// its extracted directory plus its compressed blob. Images count what they
// use (blobs and extracted layers); the build cache, the layers and blobs
// only cache records hold.
func (s *Store) DiskUsage() (Usage, error) {
	u, err := s.scan()
	if err != nil {
		return Usage{}, err
	}
	var out Usage
	out.Images.Count = u.images
	for d := range u.imageBlobs {
		out.Images.Size += u.blobs[d]
	}
	for c := range u.imageChains {
		if lu := u.layers[c]; lu != nil {
			out.Images.Size += lu.size
		}
	}
	out.BuildCache.Count = len(u.records)
	cacheOnly := map[string]bool{}
	for _, r := range u.records {
		for _, l := range r.layers {
			lu := u.layers[l]
			if lu == nil || u.imageChains[l] || cacheOnly[l.String()] {
				continue
			}
			cacheOnly[l.String()] = true
			out.BuildCache.Size += lu.size
			if lu.complete && !u.imageBlobs[lu.meta.Blob.Digest] {
				out.BuildCache.Size += u.blobs[lu.meta.Blob.Digest]
			}
		}
	}
	out.BuildCache.Reclaimable = out.BuildCache.Size
	out.Layers.Count = len(u.layers)
	seen := map[string]bool{}
	for id, lu := range u.layers {
		out.Layers.Size += lu.size
		if lu.complete && !seen[lu.meta.Blob.Digest.String()] {
			seen[lu.meta.Blob.Digest.String()] = true
			out.Layers.Size += u.blobs[lu.meta.Blob.Digest]
		}
		if !u.imageChains[id] {
			out.Layers.Reclaimable += lu.size
		}
	}
	out.Mounts.Count = len(u.mounts)
	for _, sz := range u.mounts {
		out.Mounts.Size += sz
	}
	out.Mounts.Reclaimable = out.Mounts.Size
	return out, nil
}
