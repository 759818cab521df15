//go:build tools

// Package tools pins the upstream Kubernetes commands the ipcmesh test tier builds.
// The product contains no Go code: this module only exists so `go build` can fetch
// and compile kube-apiserver and kube-controller-manager from the published module.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
