//go:build tools

// Package tools pins the helm command the ipcmesh chart tests build from the published module.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
