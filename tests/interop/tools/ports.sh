# Sourced by the end-to-end scripts: claims a block of UDP ports on loopback for this run,
# so that any number of runs (two ctest trees, two checkouts) can go side by side.
#
#   s4100_claim_ports COUNT      # sets PORT_BASE; ports PORT_BASE .. PORT_BASE+COUNT-1
#
# A random block in 20000..32767 (below Linux's ephemeral range, where the kernel would
# hand out ports to other programs), claimed with a non-blocking lock on a file named
# after the block (held until the calling shell exits, so no other run takes it) and
# then checked free by binding every port in it (so no other program holds one). Needs
# node (every caller already does).
s4100_claim_ports() {
  local count=$1 blocks tries base lock fd
  blocks=$(( (32768 - 20000) / count ))
  for tries in $(seq 200); do
    base=$(( 20000 + (RANDOM * 32768 + RANDOM) % blocks * count ))
    lock="/tmp/s4100-udp-$base-$count.lock"
    # (A lock file of another user cannot be opened: that block is someone else's.)
    { exec {fd}>>"$lock"; } 2>/dev/null || continue
    if flock -n "$fd" && s4100_ports_free "$base" "$count"; then
      PORT_BASE=$base
      PORT_LOCK_FD=$fd
      return 0
    fi
    exec {fd}>&-
  done
  echo "s4100_claim_ports: no free block of $count UDP ports in 20000..32767" >&2
  return 1
}

# Whether every UDP port of BASE..BASE+COUNT-1 can be bound on 0.0.0.0 (as the meter does).
s4100_ports_free() {
  node -e '
    const dgram = require("node:dgram");
    const [base, count] = process.argv.slice(1).map(Number);
    let left = count;
    let free = true;
    const socks = [];
    const done = () => {
      if (--left > 0) return;
      for (const s of socks) try { s.close(); } catch {}
      process.exit(free ? 0 : 1);
    };
    for (let p = base; p < base + count; p++) {
      const s = dgram.createSocket({ type: "udp4", reuseAddr: false });
      socks.push(s);
      s.once("error", () => { free = false; done(); });
      s.bind(p, "0.0.0.0", done);
    }' "$1" "$2"
}
