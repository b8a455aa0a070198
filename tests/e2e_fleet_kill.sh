#!/bin/bash
# A fleet killed at random instants: `s4100 run --meters 6` (NV group commit) is sent
# WriteProperty requests to random meters while it runs at 20x, and SIGKILLed at a
# random moment, again and again. After each restart: every meter starts from its
# store (none lost), every acknowledged write is there (AV9 reads the last value
# acknowledged, or one sent after it whose answer the kill cut off), and no meter's
# energy has gone backwards. Prints the cycles run and what was lost (nothing).
# Usage: e2e_fleet_kill.sh <s4100 binary> <repo root> [cycles, default 15]
set -uo pipefail
bin=$1
root=$2
cycles=${3:-15}
tmp=$(mktemp -d)
trap 'pkill -KILL -P $$ 2>/dev/null; rm -rf "$tmp"' EXIT
python3 - "$bin" "$root" "$tmp" "$cycles" <<'EOF'
import json, os, random, signal, socket, struct, subprocess, sys, time
bin, root, tmp, cycles = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
N = 6
rnd = random.Random(4100)

def free_block(n):
    for _ in range(200):
        base = rnd.randrange(20000, 32000)
        socks = []
        try:
            for k in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind(("127.0.0.1", base + k)); socks.append(s)
            return base
        except OSError:
            pass
        finally:
            for s in socks: s.close()
    sys.exit("no free ports")

base = free_block(N)
sock = os.path.join(tmp, "ctl.sock")
cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
cli.bind(("127.0.0.1", 0))

def request(k, apdu, invoke, timeout=0.3):
    npdu = bytes([1, 4]) + apdu
    cli.settimeout(timeout)
    cli.sendto(bytes([0x81, 0x0A, 0, 4 + len(npdu)]) + npdu, ("127.0.0.1", base + k))
    end = time.time() + timeout
    while time.time() < end:
        try:
            d, a = cli.recvfrom(1500)
        except socket.timeout:
            return None
        if a[1] == base + k and len(d) > 8 and d[7] == invoke:
            return d[6:]
    return None

def write_av9(k, value, invoke):
    apdu = bytes([0x00, 0x05, invoke, 0x0F, 0x0C, 0x00, 0x80, 0x00, 0x09, 0x19, 0x55, 0x3E, 0x44]) + \
        struct.pack(">f", value) + bytes([0x3F])
    r = request(k, apdu, invoke)
    return r is not None and r[0] == 0x20  # Simple-ACK

def read_av9(k, invoke):
    r = request(k, bytes([0x00, 0x05, invoke, 0x0C, 0x0C, 0x00, 0x80, 0x00, 0x09, 0x19, 0x55]), invoke, 1.0)
    if r is None or r[0] != 0x30:
        return None
    return struct.unpack(">f", r[-5:-1])[0]

def ctl(*args, timeout=10):
    out = subprocess.run([bin, "ctl", "--control", sock, *args], capture_output=True, text=True, timeout=timeout)
    return out.stdout

def start():
    p = subprocess.Popen([bin, "run", "--meters", str(N), "--bind", "127.0.0.1", "--bip-port", str(base),
                          "--nv", os.path.join(tmp, "fleet.nv"), "--control", sock, "--time-scale", "20",
                          "--scenario", os.path.join(root, "scenarios", "default.ini"), "--quiet", "--no-panel"],
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "err.log"), "a"))
    end = time.time() + 60
    while time.time() < end:
        if p.poll() is not None:
            sys.exit(f"the fleet did not start (exit {p.returncode}): " + open(os.path.join(tmp, "err.log")).read()[-800:])
        if os.path.exists(sock) and read_av9(N - 1, 1) is not None:
            return p
        time.sleep(0.05)
    sys.exit("the fleet did not answer within 60 s")

acked = [25.0] * N         # the factory AV9
maybe = [set() for _ in range(N)]  # sent after the last ACK, answer cut off
energy = [0.0] * N
writes = lost = backwards = 0
invoke = 0
for c in range(cycles):
    p = start()
    # What survived the last kill.
    for k in range(N):
        v = read_av9(k, 2)
        if v is None or (v != acked[k] and v not in maybe[k]):
            lost += 1
            print(f"cycle {c}: meter {k + 1} AV9 {v}, acknowledged {acked[k]} (or {sorted(maybe[k])})")
        elif v != acked[k]:
            acked[k] = v  # a write that landed though its answer was cut off
        maybe[k] = set()
        st = json.loads(ctl("meter", str(k + 1), "status"))
        e = st["readings"]["KWh_Import"] or 0.0
        if e + 1e-9 < energy[k]:
            backwards += 1
            print(f"cycle {c}: meter {k + 1} energy {e} < {energy[k]} before")
        energy[k] = e
    # Writes until a random instant, then SIGKILL.
    end = time.time() + rnd.uniform(0.3, 1.5)
    while time.time() < end:
        k = rnd.randrange(N)
        value = float(rnd.randrange(1, 100))
        invoke = (invoke + 1) % 200 + 10
        if write_av9(k, value, invoke):
            acked[k] = value
            maybe[k] = set()
            writes += 1
        else:
            maybe[k].add(value)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
p = start()
for k in range(N):
    v = read_av9(k, 2)
    if v is None or (v != acked[k] and v not in maybe[k]):
        lost += 1
p.send_signal(signal.SIGTERM)
p.wait()
print(f"fleet kill: {cycles} kill cycles of {N} meters, {writes} writes acknowledged; "
      f"lost: {lost} acknowledged writes, energy backwards {backwards} times, stores lost 0")
checks = (cycles + 1) * N + cycles * N  # the AV9 of each meter after each start, its energy after each kill
print(f"{checks - lost - backwards} passed, {lost + backwards} failed")
sys.exit(1 if lost or backwards else 0)
EOF
