//go:build tools

// Package tools pins the etcd server the ipcmesh control-plane tests build from the
// published module (Debian's etcd 3.4 is older than current kube-apiservers accept).
package tools

import _ "go.etcd.io/etcd/server/v3"
