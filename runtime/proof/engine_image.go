package proof

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"
)

// The image of the Docker engine proof: FROM scratch, one layer holding this binary as
// /rootless-doctor (the entrypoint) and the mount points, written in the tar format
// `docker save` writes and `docker load` reads (manifest.json, the config, one directory per
// layer with layer.tar: https://github.com/moby/moby/blob/v20.10.24/image/tarexport/load.go).
// Nothing is pulled: no registry, no network.

// imageEpoch is the time stamp of every entry: the layer's bytes, and so its digest, depend
// only on the binary.
var imageEpoch = time.Unix(0, 0).UTC()

// writeLayer writes the layer's tar to w.
func writeLayer(w io.Writer, exe string) error {
	f, err := os.Open(exe)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, d := range rootfsDirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: imageEpoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	h := &tar.Header{Typeflag: tar.TypeReg, Name: payloadName, Mode: 0o755, Size: fi.Size(), ModTime: imageEpoch, Format: tar.FormatPAX}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, f, fi.Size()); err != nil {
		return fmt.Errorf("copying %s into the image: %w", exe, err)
	}
	return tw.Close()
}

// countingHash is a sha256 that counts the bytes it is given.
type countingHash struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

// imageTag is the image's name for a layer digest: a run never meets another binary's image.
func imageTag(layerDigest string) string { return "rootless-doctor-proof:" + layerDigest[:12] }

// layer is the digest and size of the layer of a binary.
type layer struct {
	digest string
	size   int64
}

// hashLayer writes the layer of exe to a hash. The layer is written twice, once here (its
// digest goes into the config and the tag, which come first) and once into the archive: the
// binary is never held in memory.
func hashLayer(exe string) (layer, error) {
	ch := &countingHash{h: sha256.New()}
	if err := writeLayer(ch, exe); err != nil {
		return layer{}, err
	}
	return layer{digest: hex.EncodeToString(ch.h.Sum(nil)), size: ch.n}, nil
}

// writeImage writes the image archive of exe, whose layer is l, to w.
func writeImage(w io.Writer, exe string, l layer) error {
	layerDigest := l.digest
	tag := imageTag(layerDigest)
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      imageEpoch.Format(time.RFC3339),
		"config":       map[string]any{"Entrypoint": []string{"/" + payloadName}, "WorkingDir": "/"},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerDigest}},
	})
	if err != nil {
		return err
	}
	cd := sha256.Sum256(config)
	configName := hex.EncodeToString(cd[:]) + ".json"
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   configName,
		"RepoTags": []string{tag},
		"Layers":   []string{layerDigest + "/layer.tar"},
	}})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	file := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: imageEpoch}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := file(configName, config); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: layerDigest + "/", Mode: 0o755, ModTime: imageEpoch}); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: layerDigest + "/layer.tar", Mode: 0o644, Size: l.size, ModTime: imageEpoch}); err != nil {
		return err
	}
	if err := writeLayer(tw, exe); err != nil {
		return err
	}
	if err := file("manifest.json", manifest); err != nil {
		return err
	}
	return tw.Close()
}
