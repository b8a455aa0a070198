#!/usr/bin/env python3
"""Footprint and budgets of the Cortex-M4F firmware, from the linked image.

usage: fw-budget.py [-b BUDGET]... [--map MAP] [--roots F,F...] [--all-paths]
                    [--tools PREFIX] BUILD_DIR [ELF]

  BUILD_DIR  searched for GCC's -fcallgraph-info=su (*.ci) and -fstack-usage (*.su)
  ELF        the linked image: vector table, symbols, disassembly (arm-none-eabi-nm,
             -objdump from PATH); without it, only the .ci graph (tests use that)
  --map      the linker map (-Wl,-Map,FILE,--cref); default: ELF with .map
  --budget   budget file (repeatable: numbers from the last one, tables merged)
  --roots    stack roots to use instead of main + the ELF's vector table
  --all-paths  print the deepest path of every handler, not only the counted ones
  --tools    prefix of nm/objdump (default arm-none-eabi-)

It prints (1) the worst-case stack: the deepest path from every root (main,
Reset_Handler, each vector-table handler) frame by frame, and the total over nesting:
thread mode (Reset_Handler/main) plus, per preemption priority level (NMI, HardFault,
the levels the budget file gives), its deepest handler, each with the hardware
exception frame; (2) flash and RAM per module from the map; (3) the
double-precision routines linked and their callers. Exit 0 within budget, 1 over budget
or when the analysis is not sound (recursion, unbounded dynamic stack, an indirect call
the budget file's table does not cover, a frame size unknown), 2 on a usage error.

Budget file (# comments; bytes, decimal or 0x):
  stack N | flash N | ram N     totals (RAM: data + bss + the script's reserves)
  flash MODULE N | ram MODULE N per module as printed (core/metering, port/mps2, libm)
  double yes|no                 may double-precision routines be linked
  priority HANDLER N            NVIC priority (default 0; #N names vector N)
  exception_frame BYTES [PAD]   per handler entry (default 104 + 4)
  frame FUNCTION BYTES          a frame the graph lacks or gets wrong (asm, dynamic)
  vectors NAME                  the vector table's section or symbol, if unusual
Indirect calls (structs of function pointers) are resolved only by the budget file:
  indirect CALLER: TARGET ...   every function CALLER may reach through a pointer
  set NAME: FUNCTION ...        a named list, used as $NAME in an indirect line
Names: a global function `f`, or a static one `file.c:f` (any path suffix of the
source file; GCC clone suffixes such as .constprop.0 match too); `&file.c` stands for
every function whose address file.c's object takes (its relocations). A target that is
not linked is ignored; a name found nowhere is an error.
"""
import argparse
import collections
import os
import re
import subprocess
import sys

EXC_FRAME = 104  # Cortex-M4F, FPCA set: R0-R3, R12, LR, PC, xPSR + S0-S15, FPSCR, pad
ALIGN_PAD = 4    # CCR.STKALIGN: the frame may start 4 bytes lower to align to 8
CLONE = re.compile(r'\.(constprop|isra|part|cold|lto_priv|localalias)(\.\d+)*$')
DOUBLE_RE = re.compile(
    r'^(__aeabi_(d(add|sub|rsub|mul|div|neg|cmp\w*|2\w+)|cd\w+|[fil]2d|ui2d|ul2d)'
    r'|__(add|sub|mul|div|neg)df3|__extendsfdf2|__truncdfsf2'
    r'|__float(un)?(si|di|ti)df|__fix(uns)?df(si|di|ti)|__(eq|ne|lt|le|gt|ge|unord|cmp)df2'
    r'|__ieee754_(?!\w*f$)\w+|__kernel_(?!\w*f$)\w+)$')
LIBM_DOUBLE = set('sin cos tan asin acos atan atan2 sinh cosh tanh asinh acosh atanh exp '
                  'exp2 expm1 log log10 log2 log1p pow sqrt cbrt hypot floor ceil round '
                  'lround llround trunc fmod fabs fmin fmax modf frexp ldexp scalbn copysign '
                  'rint lrint nearbyint remainder erf erfc lgamma tgamma'.split())


def is_double(name):
    return bool(DOUBLE_RE.match(name)) or name in LIBM_DOUBLE


class Fail:
    def __init__(self):
        self.msgs = []

    def __call__(self, msg):
        self.msgs.append(msg)


def die(msg):
    print('fw-budget: ' + msg, file=sys.stderr)
    sys.exit(2)


def run(cmd):
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        die('%s: %s' % (' '.join(cmd), e))


def stem(path):
    """dir/meter.o, dir/meter.ci -> dir/meter; dir/meter.c.obj -> dir/meter.c"""
    return os.path.splitext(os.path.normpath(path))[0]


def base_name(fn):
    return CLONE.sub('', fn)


# ---- budget file ------------------------------------------------------------------

class Budget:
    def __init__(self):
        self.limits = {}          # 'stack'|'flash'|'ram' -> bytes; ('flash', module) too
        self.double = None        # True: allowed
        self.priority = {}        # handler name (or #vector) -> NVIC priority
        self.exc_frame = EXC_FRAME
        self.align_pad = ALIGN_PAD
        self.indirect = collections.defaultdict(list)  # caller name -> [target names]
        self.frames = {}          # function name -> bytes (no .ci, or dynamic)
        self.sets = {}
        self.vectors = None       # the vector table's section or symbol, if unusual

    def load(self, path):
        with open(path) as f:
            for no, line in enumerate(f, 1):
                line = line.split('#', 1)[0].strip()
                if not line:
                    continue
                where = '%s:%d' % (path, no)
                key, _, rest = line.partition(' ')
                rest = rest.strip()
                if key in ('indirect', 'set'):
                    # NAME: TARGETS, where a static NAME is file.c:f itself
                    m = re.match(r'^(\S+?)\s*:\s+(.*)$', rest) or re.match(r'^(\S+):$', rest)
                    if not m:
                        die('%s: expected "%s NAME: TARGET ..."' % (where, key))
                    name = m.group(1)
                    targets = m.group(2).split() if m.lastindex > 1 else []
                    out = []
                    for t in targets:
                        if t.startswith('$'):
                            if t[1:] not in self.sets:
                                die('%s: unknown set %s' % (where, t))
                            out += self.sets[t[1:]]
                        else:
                            out.append(t)
                    if key == 'set':
                        self.sets[name] = out
                    else:
                        self.indirect[name] += out
                    continue
                args = rest.split()
                try:
                    if key in ('stack', 'flash', 'ram') and len(args) == 1:
                        self.limits[key] = int(args[0], 0)
                    elif key in ('flash', 'ram') and len(args) == 2:
                        self.limits[(key, args[0])] = int(args[1], 0)
                    elif key == 'double' and args in (['yes'], ['no']):
                        self.double = args[0] == 'yes'
                    elif key == 'priority' and len(args) == 2:
                        self.priority[args[0]] = int(args[1])
                    elif key == 'exception_frame' and len(args) in (1, 2):
                        self.exc_frame = int(args[0])
                        self.align_pad = int(args[1]) if len(args) == 2 else 0
                    elif key == 'vectors' and len(args) == 1:
                        self.vectors = args[0]
                    elif key == 'frame' and len(args) == 2:
                        self.frames[args[0]] = int(args[1], 0)
                    else:
                        raise ValueError
                except ValueError:
                    die('%s: cannot read "%s"' % (where, line))


# ---- the call graph (.ci, .su) --------------------------------------------------------

Q = r'"((?:[^"\\]|\\.)*)"'


class Node:
    def __init__(self, key, name, tu=None):
        self.key = key      # unique: the .ci title, or lib:NAME
        self.name = name    # the function's own name
        self.sym = key.rsplit(':', 1)[-1]  # its symbol (clone suffix and all)
        self.tu = tu        # source file (as compiled), None for library code
        self.ci = None      # the .ci file it came from
        self.frame = None   # bytes, None: unknown
        self.qual = ''      # static / dynamic / dynamic,bounded / disassembly
        self.loc = ''
        self.calls = []     # (target title or name, site)
        self.indirect = []  # sites of indirect calls
        self.lib = False

    def label(self):
        where = ''
        if self.tu:
            where = self.loc or self.tu
        elif self.lib:
            where = '(no .ci: from the disassembly)'
        return '%s %s' % (self.name, where)


class Graph:
    def __init__(self):
        self.nodes = {}                          # key -> Node
        self.local = {}                          # (.ci file, title) -> Node
        self.globals = collections.defaultdict(list)  # name -> [Node]
        self.by_name = collections.defaultdict(list)  # own name (no clone) -> [Node]
        self.su = {}                             # file:line:col:name -> (bytes, qual)
        self.objs = {}                           # ci stem -> object path
        self.ci_src = {}                         # .ci file -> the source it describes

    def load_dir(self, d):
        cis, sus = [], []
        for root, _, files in os.walk(d):
            for f in files:
                p = os.path.join(root, f)
                if f.endswith('.ci'):
                    cis.append(p)
                elif f.endswith('.su'):
                    sus.append(p)
                elif f.endswith(('.o', '.obj')):
                    self.objs[stem(p)] = p
        for p in sorted(sus):
            with open(p) as f:
                for line in f:
                    parts = line.rstrip('\n').split('\t')
                    if len(parts) == 3:
                        self.su[parts[0]] = (int(parts[1]), parts[2])
        for p in sorted(cis):
            self.load_ci(p)
        return len(cis), len(sus)

    def load_ci(self, path):
        with open(path) as f:
            text = f.read()
        m = re.match(r'graph: \{ title: ' + Q, text)
        if m:
            self.ci_src[path] = m.group(1)
        for m in re.finditer(r'node: \{ title: ' + Q + ' label: ' + Q + '([^}]*)\}', text):
            title, label, rest = m.group(1), m.group(2).split('\\n'), m.group(3)
            if 'ellipse' in rest or title == '__indirect_call':
                continue  # a reference, defined elsewhere (or nowhere)
            name = label[0]
            loc = label[1] if len(label) > 1 else ''
            tu = loc.rsplit(':', 2)[0] if loc.count(':') >= 2 else None
            # defined twice (two programs, or a source in two libraries): the map says
            # which one is linked
            key = title if title not in self.nodes else '%s@%s' % (title, path)
            n = Node(key, name, tu)
            n.sym = title.rsplit(':', 1)[-1]
            n.ci, n.loc = path, loc
            for part in label[2:]:
                s = re.match(r'(\d+) bytes \(([^)]*)\)', part)
                if s:
                    n.frame, n.qual = int(s.group(1)), s.group(2)
            if n.frame is None and (loc + ':' + name) in self.su:
                n.frame, n.qual = self.su[loc + ':' + name]
            self.nodes[key] = n
            self.local[(path, title)] = n
            if ':' not in title:
                self.globals[title].append(n)
            self.by_name[base_name(name)].append(n)
        for m in re.finditer(r'edge: \{ sourcename: ' + Q + ' targetname: ' + Q +
                             r'(?: label: ' + Q + r')?', text):
            src, dst, site = m.group(1), m.group(2), m.group(3) or ''
            n = self.local.get((path, src))
            if n is None:
                continue
            if dst == '__indirect_call':
                n.indirect.append(site)
            else:
                n.calls.append((dst, site))


# ---- the image: symbols, disassembly, map ------------------------------------------------

class Image:
    def __init__(self, elf, tools):
        self.elf = elf
        self.tools = tools
        self.funcs = {}        # name -> (addr, size)
        self.at = collections.defaultdict(list)  # addr -> [names]
        self.insns = {}        # primary name -> [(addr, mnemonic, operands)]
        self.primary = {}      # addr -> name objdump used
        if not elf:
            return
        for line in run([tools + 'nm', '-S', '--defined-only', elf]).splitlines():
            p = line.split()
            if len(p) == 4 and p[2] in 'TtWw':
                addr = int(p[0], 16) & ~1
                self.funcs[p[3]] = (addr, int(p[1], 16))
                self.at[addr].append(p[3])
            elif len(p) == 3 and p[1] in 'TtWw' and not p[2].startswith('$'):
                addr = int(p[0], 16) & ~1
                self.funcs.setdefault(p[2], (addr, 0))
                self.at[addr].append(p[2])
        cur = None
        for line in run([tools + 'objdump', '-d', '--no-show-raw-insn', elf]).splitlines():
            m = re.match(r'^([0-9a-f]+) <(.+)>:$', line)
            if m:
                cur = m.group(2)
                self.primary[int(m.group(1), 16)] = cur
                self.insns[cur] = []
                continue
            m = re.match(r'^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$', line)
            if m and cur is not None:
                self.insns[cur].append((int(m.group(1), 16), m.group(2), m.group(3)))

    def block(self, name):
        """The disassembly of function name (any alias of its address)."""
        if name not in self.funcs:
            return None
        return self.insns.get(self.primary.get(self.funcs[name][0], name))

    def vector_roots(self, mp, name=None):
        """Handlers in the vector table: [(index, name)], or None if none found. The
        table: an output section, an input section the map shows, or a symbol."""
        names = [name] if name else ['.isr_vector', '.vectors', '.vector_table',
                                     '.isr_vectors', 'g_vectors', '__isr_vector',
                                     '__Vectors', 'g_pfnVectors', 'vector_table', 'vectors']
        secs = run([self.tools + 'objdump', '-h', self.elf])
        syms = run([self.tools + 'objdump', '-t', self.elf])
        for n in names:
            if re.search(r'\s%s\s' % re.escape(n), secs):
                return self.words(['-j', n])
            for out, sec, a, size, f in mp.sections:
                if sec == n and size:
                    return self.range(out, a, size)
            m = re.search(r'^([0-9a-f]+) .*\s(\S+)\s+([0-9a-f]+) %s$' % re.escape(n), syms, re.M)
            if m and int(m.group(3), 16):
                return self.range(m.group(2), int(m.group(1), 16), int(m.group(3), 16))
        return None

    def range(self, sec, a, size):
        return self.words(['-j', sec, '--start-address=%d' % a,
                           '--stop-address=%d' % (a + size)])

    def section_funcs(self, sec):
        if not re.search(r'\s%s\s' % re.escape(sec), run([self.tools + 'objdump', '-h',
                                                           self.elf])):
            return []
        return self.words(['-j', sec], first=0)

    def words(self, args, first=1):
        data = b''
        for line in run([self.tools + 'objdump', '-s'] + args + [self.elf]).splitlines():
            m = re.match(r'^ ([0-9a-f]+) ((?:[0-9a-f]{2,8} ?){1,4})', line)
            if m:
                data += bytes.fromhex(m.group(2).replace(' ', ''))
        roots = []
        for i in range(first, len(data) // 4):
            w = int.from_bytes(data[4 * i:4 * i + 4], 'little')
            names = self.at.get(w & ~1)
            if w and names:
                roots.append((i, sorted(names, key=lambda n: (n.startswith('_'), n))[0]))
        return roots


def reglist_bytes(ops):
    m = re.search(r'\{([^}]*)\}', ops)
    if not m:
        return 0
    n = 0
    for r in m.group(1).split(','):
        r = r.strip()
        size = 8 if r.startswith('d') else 4
        if '-' in r:
            a, b = r.split('-')
            n += (int(b[1:]) - int(a[1:]) + 1) * size
        elif r:
            n += size
    return n


def lib_analysis(insns, own):
    """Frame (conservative: every stack decrement added up), direct callees and
    whether the code calls through a register, from a function's disassembly."""
    frame, calls, indirect, dynamic = 0, [], [], False
    for addr, mn, ops in insns:
        mnb = mn.split('.')[0]
        if mnb in ('push', 'vpush') or (mnb in ('stmdb', 'vstmdb', 'stmfd') and
                                        ops.startswith('sp!')):
            frame += reglist_bytes(ops)
        elif mnb in ('sub', 'subw') and re.match(r'sp, (sp, )?#', ops):
            frame += int(re.search(r'#(\d+)', ops).group(1))
        elif mnb in ('sub', 'subw') and ops.startswith('sp,'):
            dynamic = True
        elif mnb.startswith('str') and re.search(r'\[sp, #-(\d+)\]!', ops):
            frame += int(re.search(r'\[sp, #-(\d+)\]!', ops).group(1))
        m = re.match(r'^[0-9a-f]+ <([^>+]+)(\+0x[0-9a-f]+)?>', ops)
        if mnb in ('bl', 'blx') and m:
            if m.group(1) != own:
                calls.append((m.group(1), '0x%x' % addr))
        elif mnb.startswith('b') and m and not m.group(2) and m.group(1) != own:
            calls.append((m.group(1), '0x%x' % addr))  # a tail call
        elif mnb == 'blx' or (mnb == 'bx' and ops != 'lr') or \
                (mnb in ('mov', 'ldr') and ops.startswith('pc,') and
                 not ops.startswith('pc, [sp]')):  # ldr pc, [sp], #4: a return
            indirect.append('0x%x' % addr)
    return frame, calls, indirect, dynamic


class Map:
    """The linker map: input sections with their object, and the --cref table."""
    def __init__(self, path):
        self.sections = []   # (output, input, addr, size, file)
        self.outputs = {}    # output section -> (addr, size)
        self.fills = collections.Counter()  # output -> fill bytes
        self.reserved = collections.Counter()  # output -> bytes of `. = . + N`
        self.cref = {}       # symbol -> (defined in, [referenced by])
        self.kept = set()    # (object, input section)
        self.symbols = {}    # symbol -> address, as the memory map lists them (kept)
        self.discarded = set()  # (object, input section) --gc-sections dropped
        self.regions = []    # (origin, length, attributes) of the Memory Configuration
        if not path:
            return
        with open(path) as f:
            lines = f.read().splitlines()
        i, n = 0, len(lines)
        in_disc, dname = False, None
        while i < n and not lines[i].startswith('Linker script and memory map'):
            line = lines[i]
            i += 1
            if line.startswith('Discarded input sections'):
                in_disc = True
                continue
            m = re.match(r'^(\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)(?:\s+(\S+))?$', line)
            if m and m.group(1) != '*default*' and not line.startswith(' '):
                self.regions.append((int(m.group(2), 16), int(m.group(3), 16), m.group(4) or ''))
                continue
            if not in_disc:
                continue
            m = re.match(r'^ (\.\S+|COMMON)(?:\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+(.*))?$', line)
            if m:
                dname = m.group(1)
                if m.group(2):
                    self.discarded.add((m.group(2).strip(), dname))
                    dname = None
                continue
            m = re.match(r'^\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+(.*)$', line)
            if m and dname:
                self.discarded.add((m.group(1).strip(), dname))
            dname = None
        out, pending = None, None
        hexn = r'0x[0-9a-fA-F]+'
        while i < n and not lines[i].startswith('Cross Reference Table'):
            line = lines[i]
            i += 1
            if line and not line[0].isspace():
                if not line.startswith('.'):
                    out, pending = None, None  # LOAD, START GROUP, OUTPUT(...)
                    continue
                m = re.match(r'^(\S+)(?:\s+(%s)\s+(%s))?' % (hexn, hexn), line)
                out = m.group(1)
                if m.group(2):
                    self.outputs[out] = (int(m.group(2), 16), int(m.group(3), 16))
                else:
                    pending = ('out', out)
                continue
            m = re.match(r'^\s+(%s)\s+(%s)(?:\s+(.*))?$' % (hexn, hexn), line)
            if m and pending:
                kind, name = pending
                pending = None
                if kind == 'out':
                    self.outputs[name] = (int(m.group(1), 16), int(m.group(2), 16))
                else:
                    self.add(out, name, m.group(1), m.group(2), m.group(3))
                continue
            pending = None
            if out is None:
                continue
            m = re.match(r'^\s+(%s)\s+([A-Za-z_.$][\w.$]*)$' % hexn, line)
            if m:
                self.symbols[m.group(2)] = int(m.group(1), 16)
                continue
            m = re.match(r'^ \*fill\*\s+(%s)\s+(%s)' % (hexn, hexn), line)
            if m:  # after `. = . + N`: space the script reserves (stack, heap)
                k = 'reserved' if re.search(r'\. = \(?\. \+', lines[i - 2]) else 'fill'
                (self.reserved if k == 'reserved' else self.fills)[out] += int(m.group(2), 16)
                continue
            m = re.match(r'^ (\.\S+|COMMON)(?:\s+(%s)\s+(%s)(?:\s+(.*))?)?$' % (hexn, hexn), line)
            if m:
                if m.group(2):
                    self.add(out, m.group(1), m.group(2), m.group(3), m.group(4))
                else:
                    pending = ('in', m.group(1))
        sym = None
        for line in lines[i + 3:]:
            if not line.strip():
                continue
            if not line[0].isspace():
                p = line.split(None, 1)
                sym = p[0]
                self.cref[sym] = (p[1].strip() if len(p) > 1 else '', [])
            elif sym:
                self.cref[sym][1].append(line.strip())

    def add(self, out, name, addr, size, f):
        size = int(size, 16)
        f = (f or '').strip()
        self.sections.append((out, name, int(addr, 16), size, f))
        if f:
            self.kept.add((f, name))

    def region_kind(self, out, addr):
        """bss for an output section without inputs in a writable region (a stack),
        rodata in a read-only one; None when the map has no memory regions."""
        for origin, length, attrs in self.regions:
            if origin <= addr < origin + length:
                return 'bss' if 'w' in attrs.lower() else 'rodata'
        return None

    def file_at(self, addr):
        for out, name, a, size, f in self.sections:
            if a <= addr < a + size and f:
                return f
        return ''


# ---- module accounting -------------------------------------------------------------------

class Objects:
    """Which object of the build directory a file the map names is (an archive member
    by its name), and so which source file and module."""
    def __init__(self, g, dirs):
        self.dirs = dirs
        self.src = {}
        self.by_base = collections.defaultdict(list)
        for ci, src in g.ci_src.items():
            obj = g.objs.get(stem(ci))
            if obj:
                a = os.path.normpath(os.path.abspath(obj))
                self.src[a] = src
                self.by_base[os.path.basename(a)].append(a)
        self.cache = {}
        self.resolve_any = False  # some file of the map is an object of the build dir

    def resolve(self, f):
        if f not in self.cache:
            r = None
            m = re.match(r'^(.*)\((.+)\)$', f)
            if m:
                hits = self.by_base.get(os.path.basename(m.group(2)), [])
                r = hits[0] if len(hits) == 1 else None
            else:
                for d in self.dirs:
                    p = os.path.normpath(os.path.abspath(os.path.join(d, f)))
                    if p in self.src:
                        r = p
                        break
            self.cache[f] = r
            self.resolve_any = self.resolve_any or r is not None
        return self.cache[f]

    def key(self, f):
        return self.resolve(f) or os.path.normpath(f)

    def module(self, f):
        if not f:
            return '(linker)'
        o = self.resolve(f)
        if o:
            m = re.search(r'(?:^|/)src/(core|port)/([^/]+)/', self.src[o])
            return '%s/%s' % m.groups() if m else os.path.basename(self.src[o])
        return module_of(f)


def module_of(f):
    p = f.replace('\\', '/')
    m = re.search(r'(?:^|/)src/(core|port)/([^/]+)/', p)
    if m:
        return '%s/%s' % m.groups()
    m = re.search(r'(?:^|/)lib([^/(]+)\.a\(', p)
    if m:
        lib = m.group(1).replace('_nano', '')
        return {'g': 'libc'}.get(lib, 'lib' + lib if lib != 'c' else 'libc')
    if re.search(r'(?:^|/)crt\w*\.o$', p):
        return 'crt (startup files)'
    return os.path.basename(p) or '(linker)'


def section_kind(out, name):
    if out.startswith(('.debug', '.comment', '.ARM.attributes', '.stab', '.note')) or \
            name.startswith(('.debug', '.comment', '.ARM.attributes', '.note')):
        return None
    if name.startswith(('.bss', 'COMMON', '.tbss', '.noinit')) or out in ('.bss', '.noinit'):
        return 'bss'
    if name.startswith(('.data', '.tdata', '.ramfunc')) or out == '.data':
        return 'data'
    if name.startswith(('.text', '.glue_7', '.vfp11_veneer', '.v4_bx', '.iplt', '.init',
                        '.fini')) and not name.startswith(('.init_array', '.fini_array')):
        return 'text'
    return 'rodata'


def footprint(mp, module=module_of):
    rows = collections.defaultdict(collections.Counter)
    insum = collections.Counter()
    kinds = {}
    for out, name, addr, size, f in mp.sections:
        k = section_kind(out, name)
        insum[out] += size
        if k is None or not size:
            continue
        kinds.setdefault(out, k)
        rows[module(f) if f else '(linker)'][k] += size
    for out, (addr, size) in mp.outputs.items():
        k = kinds.get(out) or mp.region_kind(out, addr) or section_kind(out, out)
        if k is None:
            continue
        if mp.fills[out]:
            rows['(alignment fill)'][k] += mp.fills[out]
        # `. = . + N` in the script (stack, heap): a *fill* line, or nothing at all
        rest = max(size - insum[out] - mp.fills[out], mp.reserved[out])
        if rest > 0:
            rows['(reserved by the linker script: %s)' % out][k] += rest
    return rows


# ---- the analysis ---------------------------------------------------------------------------

class Analysis:
    def __init__(self, g, img, mp, budget, fail, objects):
        self.g, self.img, self.mp, self.b, self.fail = g, img, mp, budget, fail
        self.objects = objects
        self.memo = {}
        self.cycles = []
        self.unknown = set()
        self.dynamic = set()
        self.uncovered = {}
        self.notes = []
        self.frame_of = {}        # node key -> bytes the budget file states
        for name, size in budget.frames.items():
            for n in self.lookup(name) or []:
                self.frame_of[n.key] = size
        self.build_table()

    # which functions are in the image
    def present(self, n):
        if n.lib:
            return True
        if not self.img.elf and not self.mp.sections:
            return True
        obj = self.g.objs.get(stem(n.ci))
        if obj and self.mp.sections:
            if not hasattr(self, 'kept'):
                ab = lambda pairs: {(self.objects.key(f), s) for f, s in pairs}
                self.kept, gone = ab(self.mp.kept), ab(self.mp.discarded)
                self.split = {f for f, s in self.kept | gone if s.startswith('.text.')}
                self.linked = {f for f, s in self.kept | gone}
            norm = os.path.normpath(os.path.abspath(obj))
            if norm in self.split:  # -ffunction-sections: the map says which were kept
                return any((norm, '.text.%s%s' % (p, n.sym)) in self.kept
                           for p in ('', 'startup.', 'unlikely.', 'hot.', 'exit.'))
            if norm not in self.linked and self.objects.resolve_any:
                return False  # an object (archive member) the link did not pull in
        return n.sym in self.img.funcs if self.img.elf else True

    def lib_node(self, name):
        key = 'lib:' + name
        if key in self.g.nodes:
            return self.g.nodes[key]
        n = Node(key, name)
        n.lib = True
        if name in self.b.frames:
            n.frame, n.qual = self.b.frames[name], 'budget file'
        insns = self.img.block(name) if self.img.elf else None
        if insns is not None:
            frame, calls, indirect, dyn = lib_analysis(insns, self.img.primary.get(
                self.img.funcs[name][0], name))
            if n.frame is None:
                n.frame, n.qual = frame, 'disassembly' + (', dynamic' if dyn else '')
            n.calls = calls
            n.indirect = indirect
        elif n.frame is None and (self.img.elf or (self.mp.sections and
                                                   name not in self.mp.symbols)):
            n = None  # not linked (a builtin expanded inline)
        if n is not None:
            self.g.nodes[key] = n
        return n

    def resolve_call(self, src, dst):
        """A direct call's target node from src's TU, or None (not linked)."""
        n = self.g.local.get((src.ci, dst))
        if n is not None:
            return n
        defs = [d for d in self.g.globals.get(dst, []) if self.present(d)]
        if defs:
            return defs[0]
        if dst in self.g.globals:
            return self.g.globals[dst][0]
        return self.lib_node(dst)

    def lookup(self, name):
        """Nodes a table name stands for ([] when not linked); None when unknown."""
        if name.startswith('&'):
            return self.address_taken(name[1:])
        if ':' in name:
            f, fn = name.rsplit(':', 1)
            hits = [n for n in self.g.by_name.get(fn, []) if n.tu and
                    (n.tu == f or n.tu.endswith('/' + f))]
            if not hits and not any(src == f or src.endswith('/' + f)
                                    for src in self.g.ci_src.values()):
                self.notes.append('%s: %s is not compiled here' % (name, f))
                return []
            if not hits:
                return None
        else:
            hits = list(self.g.globals.get(name, []))
            if not hits:
                hits = [n for n in self.g.by_name.get(name, []) if ':' in n.key]
            if not hits:
                if self.img.elf and name in self.img.funcs:
                    return [self.lib_node(name)]
                if name in self.b.frames:
                    return [self.lib_node(name)]
                return None
        return [n for n in hits if self.present(n)]

    def address_taken(self, f):
        """Functions defined in source file f whose address its object takes."""
        nodes = [n for n in self.g.nodes.values() if n.tu and (n.tu == f or n.tu.endswith('/' + f))]
        if not nodes:
            return None
        obj = self.g.objs.get(stem(nodes[0].ci))
        if not obj:
            die('&%s: no object file next to %s' % (f, nodes[0].ci))
        rel = run([self.img.tools + 'objdump', '-r', obj])
        names = set(re.findall(r'R_ARM_(?:ABS32|THM_MOVW_ABS_NC|THM_MOVT_ABS)\s+(\S+)', rel))
        return [n for n in nodes if (n.sym in names or n.name in names) and self.present(n)]

    def build_table(self):
        self.table = collections.defaultdict(list)   # caller key -> target nodes
        self.errors = []
        if self.img.elf:  # the C library's constructor loops: what the image lists
            for fn, secs in (('__libc_init_array', ('.preinit_array', '.init_array')),
                             ('__libc_fini_array', ('.fini_array',))):
                if fn in self.img.funcs:
                    self.table['lib:' + fn] = [self.lib_node(t) for sec in secs
                                               for _, t in self.img.section_funcs(sec)]
        for caller, targets in self.b.indirect.items():
            callers = self.lookup(caller)
            if callers is None:  # not in this image (a target typo would fail below)
                self.notes.append('indirect %s: no such function here' % caller)
                continue
            for c in callers:
                self.table.setdefault(c.key, [])
            for t in targets:
                hits = self.lookup(t)
                if hits is None:
                    self.errors.append('indirect %s: target %s: no such function' % (caller, t))
                    continue
                for c in callers:
                    self.table[c.key] += [h for h in hits if h not in self.table[c.key]]
        for e in self.errors:
            self.fail('budget table: ' + e)
        self.notes = sorted(set(self.notes))

    def asm_calls(self, n):
        """Direct calls and tail branches in the image's code of a function its .ci says
        calls nothing: a naked function (a fault handler's `b report`) is invisible to
        GCC's call graph."""
        if n.lib or n.calls or not self.img.elf or n.sym not in self.img.funcs:
            return []  # (a function the .ci says calls something is compiled C)
        insns = self.img.block(n.sym)
        if not insns:
            return []
        own = self.img.primary.get(self.img.funcs[n.sym][0], n.sym)
        listed = {dst for dst, _ in n.calls}
        return [(dst, site) for dst, site in lib_analysis(insns, own)[1]
                if dst not in listed and dst != n.sym]

    def callees(self, n):
        out = []
        for dst, site in n.calls + self.asm_calls(n):
            t = self.resolve_call(n, dst)
            if t is not None:
                out.append((t, site))
        if n.indirect:
            if n.key in self.table:
                out += [(t, 'indirect') for t in self.table[n.key]]
            else:
                self.uncovered[n.key] = n
        return out

    def depth(self, n, stack=()):
        """Deepest stack from n: (bytes, [nodes])."""
        if n.key in self.memo:
            return self.memo[n.key]
        if n.key in stack:
            i = stack.index(n.key)
            cyc = [self.g.nodes[k].name for k in stack[i:]] + [n.name]
            if not any(set(cyc) == set(c) for c in self.cycles):
                self.cycles.append(cyc)
            return 0, []
        frame = n.frame
        if n.key in self.frame_of:
            frame = self.frame_of[n.key]
        elif frame is None:
            self.unknown.add(n.name)
            frame = 0
        elif n.qual == 'dynamic' or n.qual.endswith(', dynamic'):
            self.dynamic.add(n.label())
        best, path = 0, []
        for t, _ in self.callees(n):
            d, p = self.depth(t, stack + (n.key,))
            if d > best:
                best, path = d, p
        r = (frame + best, [(n, frame)] + path)
        self.memo[n.key] = r
        return r


# ---- report -------------------------------------------------------------------------------

def priority(b, name, idx):
    """A handler's preemption priority: lower preempts higher."""
    if idx == 2 or (idx < 0 and 'NMI' in name):
        return -2
    if idx == 3 or (idx < 0 and 'HardFault' in name):
        return -1
    given = b.priority.get(name, b.priority.get('#%d' % idx))
    if given is None and idx in (4, 5, 6):
        return -1  # MemManage, BusFault, UsageFault: disabled, they escalate to HardFault
    return given or 0


def print_path(path, indent='    '):
    for n, frame in path:
        note = '' if n.qual in ('static', '', 'disassembly') else '  (%s)' % n.qual
        print('%s%6d  %s%s' % (indent, frame, n.label(), note))


def stack_report(an, roots, b, fail, all_paths=False, mp=None):
    print('== stack (bytes; frames from -fstack-usage, library code from its disassembly)')
    vec = collections.defaultdict(list)
    names = []
    for idx, name in roots:
        if name not in names:
            names.append(name)
        vec[name].append(idx)
    results = {}
    for name in names:
        nodes = an.lookup(name)
        if not nodes:
            print('  root %s: not in the call graph (no .ci): skipped' % name)
            fail('stack: root %s has no call-graph entry' % name)
            continue
        results[name] = an.depth(nodes[0])
    thread = [r for r in ('Reset_Handler', 'main') if r in results]
    isrs = [r for r in results if r not in thread]
    for r in thread + sorted(isrs, key=lambda r: -results[r][0]):
        at = [str(i) for i in vec[r] if i > 0]
        kind = 'thread' if r in thread else 'handler' + (
            ' (vector %s)' % ', '.join(at) if at else '')
        print('  %-24s %6d  %s' % (r, results[r][0], kind))
    t_name = max(thread, key=lambda r: results[r][0]) if thread else None
    t_depth = results[t_name][0] if t_name else 0
    frame = b.exc_frame + b.align_pad
    # One handler per priority level nests on the thread: the deepest of each level.
    level = {}
    for r in isrs:
        for i in vec[r]:
            p = priority(b, r, i)
            if p not in level or results[r][0] > results[level[p]][0]:
                level[p] = r
    levels = [level[p] for p in sorted(level)]
    total = t_depth + sum(results[r][0] + frame for r in levels)
    if t_name:
        print('  deepest thread path, from %s:' % t_name)
        print_path(results[t_name][1])
    for r in (isrs if all_paths else sorted(set(levels), key=levels.index)):
        print('  deepest handler path, from %s (+%d exception frame):' % (r, frame))
        print_path(results[r][1])
    dyn = sorted(n.label() + ' (%s)' % n.qual for k, n in an.g.nodes.items()
                 if k in an.memo and 'dynamic' in n.qual)
    print('  dynamic frames on these paths: %s' % ('; '.join(dyn) if dyn else 'none'))
    print('  recursion: %s' % ('; '.join(' -> '.join(c) for c in an.cycles)
                               if an.cycles else 'none'))
    used = [(k, t) for k, t in sorted(an.table.items()) if k in an.memo]
    if used:
        print('  indirect calls on these paths, as the budget table resolves them:')
        for k, t in used:
            n = an.g.nodes[k]
            print('    %s -> %s' % (n.label(), ', '.join(x.name for x in t) or '(nothing)'))
    print('  assumed: one stack (MSP) for thread and handlers; a handler preempts only '
          'those of a lower priority, so one handler per level nests: NMI (-2), HardFault '
          '(-1), and the levels the budget gives (priority NAME N; default 0, all IRQs '
          'alike); levels here: %s. Each entry stacks the extended frame (FPU lazy '
          'stacking reserves S0-S15 and FPSCR whether or not they get written): %d bytes '
          '+ %d of 8-byte alignment' % (', '.join('%d (%s)' % (p, level[p]) for p in
                                                sorted(level)) or 'none',
                                       b.exc_frame, b.align_pad))
    print('  total: %d thread%s = %d bytes' % (
        t_depth, ''.join(' + %d %s + %d frame' % (results[r][0], r, frame) for r in levels),
        total))
    for key, n in sorted(an.uncovered.items()):
        sites = ', '.join(n.indirect)
        fail('stack: %s calls through a pointer (%s) and the budget table does not say '
             'what it may call' % (n.label(), sites))
    for c in an.cycles:
        fail('stack: recursion: %s (depth unbounded)' % ' -> '.join(c))
    for d in sorted(an.dynamic):
        fail('stack: %s has a dynamic, unbounded frame (give "frame NAME BYTES")' % d)
    for u in sorted(an.unknown):
        fail('stack: %s: frame size unknown (no .ci/.su, not in the image; give '
             '"frame %s BYTES")' % (u, u))
    for out, (addr, size) in sorted((mp.outputs if mp else {}).items()):
        if 'stack' in out.lower() and size:  # the linker script's reserve
            ok = total <= size
            print('  the linker script reserves %d in %s: %s' % (size, out, 'ok' if ok else 'OVER'))
            if not ok:
                fail('stack: %d bytes > the %d the linker script reserves (%s)' % (total, size, out))
    if 'stack' in b.limits:
        ok = total <= b.limits['stack']
        print('  budget %d: %s' % (b.limits['stack'], 'ok' if ok else 'OVER'))
        if not ok:
            fail('stack: %d bytes > budget %d' % (total, b.limits['stack']))
    return total


def footprint_report(mp, b, fail, objects):
    rows = footprint(mp, objects.module)
    print('== flash and RAM per module (bytes, from the map)')
    print('  %-44s %7s %7s %6s %6s %7s %7s' % ('module', 'text', 'rodata', 'data', 'bss',
                                                'flash', 'RAM'))
    tot = collections.Counter()
    flash_of, ram_of = {}, {}
    for mod in sorted(rows, key=lambda m: (m.startswith('('), -(rows[m]['text'] +
                                                             rows[m]['rodata']), m)):
        r = rows[mod]
        flash = r['text'] + r['rodata'] + r['data']
        ram = r['data'] + r['bss']
        flash_of[mod], ram_of[mod] = flash, ram
        tot.update(r)
        print('  %-44s %7d %7d %6d %6d %7d %7d' % (mod, r['text'], r['rodata'], r['data'],
                                                   r['bss'], flash, ram))
    flash = tot['text'] + tot['rodata'] + tot['data']
    ram = tot['data'] + tot['bss']
    core = [m for m in rows if m.startswith('core/')]
    if core:
        print('  %-44s %7d %7d %6d %6d %7d %7d' % ('src/core together', *(sum(
            rows[m][k] for m in core) for k in ('text', 'rodata', 'data', 'bss')),
            sum(flash_of[m] for m in core), sum(ram_of[m] for m in core)))
    print('  %-44s %7d %7d %6d %6d %7d %7d' % ('total', tot['text'], tot['rodata'],
                                               tot['data'], tot['bss'], flash, ram))
    for key, val in (('flash', flash), ('ram', ram)):
        if key in b.limits:
            ok = val <= b.limits[key]
            print('  %s budget %d: %s' % (key, b.limits[key], 'ok' if ok else 'OVER'))
            if not ok:
                fail('%s: %d bytes > budget %d' % (key, val, b.limits[key]))
    for lim, cap in b.limits.items():
        if isinstance(lim, tuple):
            val = (flash_of if lim[0] == 'flash' else ram_of).get(lim[1], 0)
            if val > cap:
                fail('%s of %s: %d bytes > budget %d' % (lim[0], lim[1], val, cap))
    return flash, ram


def double_report(img, mp, b, fail, objects):
    linked = set()
    if img.elf:
        linked = {n for n in img.funcs if is_double(n)}
    else:
        linked = {s for s in mp.symbols if is_double(s)}
    print('== double-precision routines')
    if not linked:
        print('  none linked')
        return 0
    # who calls what, by address, over the whole disassembly (tail calls included)
    where = {}
    rev = collections.defaultdict(set)
    for fn, insns in img.insns.items():
        for addr, mn, ops in insns:
            m = re.match(r'^([0-9a-f]+) <', ops)
            if mn.split('.')[0].startswith('b') and m:
                f = mp.file_at(addr)
                where[fn] = objects.module(f) if f else ''
                rev[int(m.group(1), 16)].add(fn)
    dbl_addr = {img.funcs[n][0] for n in linked} if img.elf else set()

    def is_dbl_fn(fn):
        return fn in img.funcs and img.funcs[fn][0] in dbl_addr

    def up(fn, seen, depth=0):
        """fn's callers outside the libraries, through library code in between."""
        if not where.get(fn, '').startswith(('lib', 'crt')) or depth > 4:
            return {fn}
        out = set()
        for c in rev.get(img.funcs.get(fn, (-1,))[0], ()):
            if c not in seen and not is_dbl_fn(c):
                seen.add(c)
                out |= up(c, seen, depth + 1)
        return out or {fn}

    def callers(n):
        return {c for c in rev.get(img.funcs[n][0], ()) if not is_dbl_fn(c)} if img.elf else set()

    def show(fn):
        return '%s (%s)' % (fn, where[fn]) if where.get(fn) else fn

    ours = set()
    groups = collections.defaultdict(list)
    for n in sorted(linked):
        groups[img.funcs[n][0] if img.elf else mp.symbols[n]].append(n)
    for key, ns in sorted(groups.items(), key=lambda kv: kv[1][0]):
        ns = sorted(ns, key=lambda s: (not s.startswith('__aeabi'), s))
        who = callers(ns[0])
        refs = set()
        for n in ns:
            refs |= {objects.module(r) for r in mp.cref.get(n, ('', []))[1]}
        print('  %s%s' % (ns[0], ' (= %s)' % ', '.join(ns[1:]) if ns[1:] else ''))
        if who:
            lines = []
            for c in sorted(who):
                via = up(c, {c})
                ours |= via
                lines.append(show(c) + ('' if via == {c} else ' <- ' + ', '.join(
                    show(v) for v in sorted(via))))
            print('      called by: %s' % '; '.join(lines))
        elif refs:
            print('      referenced by: %s' % ', '.join(sorted(refs)))
        else:
            print('      called only by other double routines')
    if ours:
        print("  the image's own code that needs them: %s" % ', '.join(show(f) for f in sorted(
            ours, key=lambda f: (where.get(f, ''), f))))
    if b.double is False:
        fail('double: %d double-precision routines linked (budget: double no)' % len(groups))
    return len(groups)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split('\n\n', 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter,
        usage='fw-budget.py [-b BUDGET]... [--map MAP] [--roots F,F...] [--all-paths] '
              '[--tools PREFIX] BUILD_DIR [ELF]')
    ap.add_argument('build_dir')
    ap.add_argument('elf', nargs='?')
    ap.add_argument('-b', '--budget', action='append', default=[])
    ap.add_argument('--map')
    ap.add_argument('--roots')
    ap.add_argument('--tools', default='arm-none-eabi-')
    ap.add_argument('--all-paths', action='store_true', help='the deepest path of every root')
    a = ap.parse_args()
    if not os.path.isdir(a.build_dir):
        ap.error('%s: not a directory' % a.build_dir)
    b = Budget()
    for p in a.budget:
        b.load(p)
    fail = Fail()
    g = Graph()
    nci, nsu = g.load_dir(a.build_dir)
    if not nci:
        die('no .ci files under %s (compile with -fcallgraph-info=su)'
                 % a.build_dir)
    mpath = a.map or (os.path.splitext(a.elf)[0] + '.map' if a.elf else None)
    if mpath and not os.path.exists(mpath):
        if a.map:
            die('%s: no such map file' % mpath)
        mpath = None
    img = Image(a.elf, a.tools)
    mp = Map(mpath)
    print('fw-budget: %d .ci and %d .su files under %s%s%s' % (
        nci, nsu, a.build_dir, '; image ' + a.elf if a.elf else '',
        '; map ' + mpath if mpath else ''))
    objects = Objects(g, [os.path.dirname(mpath or '.') or '.', a.build_dir, '.'])
    an = Analysis(g, img, mp, b, fail, objects)
    if a.roots:
        roots = [(-1, r) for r in a.roots.split(',') if r]
    else:
        roots = [(0, 'main')]
        vec = img.vector_roots(mp, b.vectors) if a.elf else None
        if vec is None:
            print('  no vector table found (.isr_vector, .vectors, g_vectors, __isr_vector...):'
                  ' roots are main and *_Handler / *_IRQHandler symbols')
            vec = [(-1, n) for n in sorted(set(img.funcs) | set(g.globals))
                   if re.search(r'_(IRQ)?Handler$', n)]
        roots += vec
    summary = ['stack %d' % stack_report(an, roots, b, fail, a.all_paths, mp)]
    if mp.sections:
        summary += ['flash %d', 'RAM %d']
        summary[1:] = [f % v for f, v in zip(summary[1:], footprint_report(mp, b, fail, objects))]
    else:
        print('== flash and RAM per module: no map file')
    if a.elf or mp.symbols:
        summary.append('double routines %d' % double_report(img, mp, b, fail, objects))
    limits = {'stack': 'stack', 'flash': 'flash', 'RAM': 'ram'}
    summary = [x + ('/%d' % b.limits[limits[x.split()[0]]] if limits.get(x.split()[0]) in
                    b.limits else '') for x in summary]
    print('fw-budget: %s' % ', '.join(summary))
    if an.notes:
        print('notes: budget table entries not used by this image: %s' % '; '.join(an.notes))
    if fail.msgs:
        print('FAIL:')
        for m in fail.msgs:
            print('  ' + m)
        return 1
    print('fw-budget: within budget')
    return 0


if __name__ == '__main__':
    sys.exit(main())
