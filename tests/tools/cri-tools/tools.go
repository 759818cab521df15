//go:build tools

// Package tools pins crictl, the CRI client the ipcmesh test tier's local node uses to inspect
// and clean up its containerd, built from the published module.
package tools

import _ "sigs.k8s.io/cri-tools/cmd/crictl"
