// Package deploy holds no code: it is the home of the proxy's deployment
// files (systemd units, the nginx load-balancer config, install.sh) and of
// the tests that check them with the real tools (systemd-analyze, nginx).
package deploy
