// Package deploy holds the deployment artefacts of Plugs: Kubernetes
// manifests under kubernetes/ (the Dockerfile is at the repository root).
// It has no code; its tests decode every manifest strictly against the
// Kubernetes API types, check that the manifests agree with each other and
// with the flags and routes of the plugs binary, and check what the
// Dockerfile promises (a static binary, a non-root user).
package deploy
