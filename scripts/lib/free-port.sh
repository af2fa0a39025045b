# Sourced by scripts/local-stack and tests/e2e/tls.sh: loopback ports for programs that cannot listen on port 0 and report it.
#
# Prometheus and Alertmanager need a port chosen before they start, so another process can take it in
# between (CI once lost Prometheus to "bind: address already in use" that way). Two defences:
#   free_port      picks below the kernel's ephemeral range (net.ipv4.ip_local_port_range), where no
#                  outgoing connection and no port-0 listener of a parallel test is ever given a port,
#                  and skips ports something already answers on;
#   lost_port_race LOG...  true when a log says the bind failed, so the caller starts again on another
#                  port (bounded by the caller).

free_port() {
  local ephemeral_low _ port i
  read -r ephemeral_low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || ephemeral_low=32768
  [ "$ephemeral_low" -gt 11024 ] || ephemeral_low=32768
  for ((i = 0; i < 50; i++)); do
    port=$((10000 + RANDOM % (ephemeral_low - 10000)))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return 0; }
  done
  return 1
}

lost_port_race() {
  grep -qs 'address already in use' "$@"
}
