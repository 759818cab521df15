//go:build tools

// Package tools pins kind, which `make e2e-kind` uses to run the end-to-end suite on a Kubernetes
// in Docker cluster (GitHub-hosted runners; not this project's development machine, whose Docker
// refuses privileged containers), built from the published module.
package tools

import _ "sigs.k8s.io/kind"
