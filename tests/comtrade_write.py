#!/usr/bin/env python3
"""An independent COMTRADE writer (IEEE C37.111-1999/2013) for the tests: analytic
3-phase signals written as a .cfg + .dat pair, or one .cff, in any of the four data
formats. Written from the standard's layout, not from src/sim/comtrade.c.

Signals (primary): va = V*sqrt2*cos(w t), vb, vc at -120 and +120 degrees; ia, ib, ic
lag their voltage by PHI degrees with RMS I; a neutral current channel IN (0.1 * I)
and two digital channels ride along so the reader must skip them.

usage: comtrade_write.py OUT_BASE [--format ascii|binary|binary32|float32] [--rev 1999|2013]
       [--cff] [--rates 5000:10000,2520:5040] [--stamps] [--secondary] [--kv] [--shuffle]
       [--v 230] [--i 50] [--phi 30] [--freq 60]
  --rates    segments rate:samples (several: a multi-rate file)
  --stamps   nrates 0: the time stamps (with timemult 2) give the rate of one segment
  --secondary values stored as secondary (PS=S) with PT 14400:120 and CT 400:5
  --kv       voltage channels in kV and currents in kA
  --shuffle  channels in another order than Va Vb Vc Ia Ib Ic
"""
import argparse
import math
import struct

FT = {"ascii": "ASCII", "binary": "BINARY", "binary32": "BINARY32", "float32": "FLOAT32"}


def channels(args):
    s2 = math.sqrt(2)
    w = 2 * math.pi * args.freq
    phi = math.radians(args.phi)
    v, i = args.v, args.i
    ch = []
    for k, p in enumerate("ABC"):
        sh = -2 * math.pi / 3 * k
        ch.append(("V" + p, p, "V", lambda t, sh=sh: v * s2 * math.cos(w * t + sh)))
    for k, p in enumerate("ABC"):
        sh = -2 * math.pi / 3 * k
        ch.append(("I" + p, p, "A", lambda t, sh=sh: i * s2 * math.cos(w * t + sh - phi)))
    ch.append(("IN", "N", "A", lambda t: 0.1 * i * s2 * math.cos(w * t)))
    if args.shuffle:
        ch = [ch[j] for j in (3, 0, 6, 4, 1, 5, 2)]
    return ch


def scaling(args, unit, peak):
    """a, b, primary, secondary, PS, unit name, divisor to stored units."""
    ratio = (14400.0, 120.0) if unit == "V" else (400.0, 5.0)
    div = 1.0
    name = unit
    if args.kv:
        div, name = 1000.0, "k" + unit
    if args.secondary:
        div *= ratio[0] / ratio[1]
    full = {"binary": 32000, "binary32": 2e9, "ascii": 99000, "float32": None}[args.format]
    stored_peak = peak / div
    if full is None:
        a, b = 0.5, 0.25
    else:
        a = 1.02 * stored_peak / full
        b = 0.003 * stored_peak
    return a, b, ratio, "S" if args.secondary else "P", name, div


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--format", default="ascii", choices=FT)
    ap.add_argument("--rev", default="1999", choices=["1999", "2013"])
    ap.add_argument("--cff", action="store_true")
    ap.add_argument("--rates", default="5000:10000")
    ap.add_argument("--stamps", action="store_true")
    ap.add_argument("--secondary", action="store_true")
    ap.add_argument("--kv", action="store_true")
    ap.add_argument("--shuffle", action="store_true")
    ap.add_argument("--v", type=float, default=230.0)
    ap.add_argument("--i", type=float, default=50.0)
    ap.add_argument("--phi", type=float, default=30.0)
    ap.add_argument("--freq", type=float, default=60.0)
    args = ap.parse_args()
    if args.cff:
        args.rev = "2013"

    segs = [(float(r), int(n)) for r, n in (x.split(":") for x in args.rates.split(","))]
    ch = channels(args)
    nd = 2
    peak = {"V": args.v * math.sqrt(2), "A": args.i * math.sqrt(2)}
    sc = [scaling(args, c[2], peak[c[2]]) for c in ch]

    # sample times, and stamps in microseconds / timemult
    times = []
    t = 0.0
    for rate, n in segs:
        for _ in range(n):
            times.append(t)
            t += 1.0 / rate
    timemult = 2.0 if args.stamps else 1.0
    stamps = [int(round(x * 1e6 / timemult)) for x in times]

    cfg = ["s4100 test station,independent writer,%s" % args.rev,
           "%d,%dA,%dD" % (len(ch) + nd, len(ch), nd)]
    for k, (cid, ph, unit, _) in enumerate(ch):
        a, b, ratio, ps, name, _ = sc[k]
        lim = {"binary": 32767, "binary32": 2147483647, "ascii": 99998, "float32": 99999999}[args.format]
        cfg.append("%d,%s,%s,,%s,%.12g,%.12g,0,%d,%d,%g,%g,%s"
                   % (k + 1, cid, ph, name, a, b, -lim, lim, ratio[0], ratio[1], ps))
    for k in range(nd):
        cfg.append("%d,TRIP%d,,,0" % (k + 1, k + 1))
    cfg.append("%g" % args.freq)
    if args.stamps:
        cfg += ["0", "0,%d" % len(times)]
    else:
        cfg.append("%d" % len(segs))
        end = 0
        for rate, n in segs:
            end += n
            cfg.append("%g,%d" % (rate, end))
    cfg += ["30/11/2026,02:00:00.000000", "30/11/2026,02:00:00.100000", FT[args.format],
            "%g" % timemult]
    if args.rev == "2013":
        cfg += ["+0h00,+0h00", "0,0"]
    cfg_text = "\r\n".join(cfg) + "\r\n"

    def raw(k, x):
        a, b, _, _, _, div = sc[k]
        r = (x / div - b) / a
        return r if args.format == "float32" else int(round(r))

    recs = []
    for j, x in enumerate(times):
        vals = [raw(k, c[3](x)) for k, c in enumerate(ch)]
        dig = [(j // 7) & 1, (j // 11) & 1]
        recs.append((j + 1, stamps[j], vals, dig))

    if args.format == "ascii":
        lines = ["%d,%d,%s,%s" % (n, ts, ",".join(str(v) for v in vals),
                                  ",".join(str(d) for d in dig)) for n, ts, vals, dig in recs]
        dat = ("\r\n".join(lines) + "\r\n").encode()
    else:
        code = {"binary": "h", "binary32": "i", "float32": "f"}[args.format]
        fmt = "<II%d%sH" % (len(ch), code)
        dat = b"".join(struct.pack(fmt, n, ts, *vals, dig[0] | dig[1] << 1)
                       for n, ts, vals, dig in recs)

    if args.cff:
        kind = "DAT ASCII" if args.format == "ascii" else "DAT BINARY: %d" % len(dat)
        out = (b"--- file type: CFG ---\r\n" + cfg_text.encode() +
               b"--- file type: INF ---\r\n--- file type: HDR ---\r\nwritten by comtrade_write.py\r\n" +
               ("--- file type: %s ---\r\n" % kind).encode() + dat)
        with open(args.out + ".cff", "wb") as f:
            f.write(out)
    else:
        with open(args.out + ".cfg", "w", newline="") as f:
            f.write(cfg_text)
        with open(args.out + ".dat", "wb") as f:
            f.write(dat)


if __name__ == "__main__":
    main()
