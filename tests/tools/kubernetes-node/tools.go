//go:build tools

// Package tools pins the upstream Kubernetes node commands (kubelet, kube-scheduler, kube-proxy) the local
// node of the ipcmesh test tier builds. It is a wrapper of its own so that the pin of
// kube-apiserver, kube-controller-manager and kubectl (tests/tools/kubernetes) and their cached
// builds stay untouched; the k8s.io/kubernetes version and replaces are the same.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
