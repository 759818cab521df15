//go:build tools

// Package tools pins the CRI runtime of the ipcmesh test tier's local node: containerd v2, its
// runc shim and ctr, built from the published module (Debian's containerd 1.6 loses kubelet
// support in Kubernetes 1.37). runc itself comes from Debian.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
