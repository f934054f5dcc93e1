// Shared machinery of the accuracy harness (run.mjs, memory.mjs, soak.mjs): two network
// namespaces joined by a veth pair, child processes that are always cleaned up (by pid),
// netmeter / nethogs / tcpdump started inside namespace A, the reference capture read with
// tshark, nethogs' trace output parsed, and the scoring of attributed bytes against the truth.
//
// Plain Node ESM, no dependencies. Needs root, iproute2, tcpdump, tshark; nethogs for the
// side-by-side columns; ethtool (optional) to turn the veth offloads off; tc for the rate limit.
//
// NETWORK: traffic stays between the namespaces created here (198.18.0.0/15, fd00::/8) and
// on their loopback interfaces.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..', '..');
export const TRAFFIC = path.join(REPO, 'test', 'harness', 'traffic.mjs');
export const WORKERS = path.join(HERE, 'workers.mjs');
export const DEFAULT_CLI = path.join(REPO, 'dist', 'src', 'cli', 'main.js');

/**
 * The command that runs netmeter's CLI file as `sudo netmeter` does: node with the options
 * the file's #! line gives (main.ts: a smaller young generation), then the file.
 */
export function netmeterCommand(cli) {
  const first = fs.readFileSync(cli, 'utf8').split('\n', 1)[0];
  const options = /^#!.*\bnode((?: +-[^ ]+)*)\s*$/.exec(first)?.[1].trim();
  return [process.execPath, ...(options ? options.split(/ +/) : []), cli];
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** A sleep that does not keep the process alive (for races against an exit). */
export const idle = (ms) => new Promise((r) => setTimeout(r, ms).unref());

const T0 = Date.now();
export function log(...parts) {
  process.stderr.write(`[accuracy ${((Date.now() - T0) / 1000).toFixed(1)}s] ${parts.join(' ')}\n`);
}

export function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

function run(cmd, args, { allowFail = false } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  }
  return r;
}

// --- the network ---------------------------------------------------------------------------------

/** Two namespaces NS-a and NS-b joined by veth-a <-> veth-b. */
export class Net {
  constructor(prefix = 'nm-acc') {
    this.nsA = `${prefix}-a`;
    this.nsB = `${prefix}-b`;
    this.ifA = 'veth-a';
    this.ifB = 'veth-b';
    this.macA = '02:00:00:00:01:0a';
    this.macB = '02:00:00:00:01:0b';
    this.a4 = '198.18.1.1';
    this.b4 = '198.18.1.2';
    this.a6 = 'fd00:1::1';
    this.b6 = 'fd00:1::2';
    this.rate = undefined;
  }

  exists(ns) {
    return run('ip', ['netns', 'list']).stdout.split('\n').some((l) => l.split(' ')[0] === ns);
  }

  /** Creates both namespaces (removing leftovers of an interrupted run of the same prefix first). */
  up({ offloads = false } = {}) {
    this.down();
    run('ip', ['netns', 'add', this.nsA]);
    run('ip', ['netns', 'add', this.nsB]);
    run('ip', ['-n', this.nsA, 'link', 'set', 'lo', 'up']);
    run('ip', ['-n', this.nsB, 'link', 'set', 'lo', 'up']);
    run('ip', ['link', 'add', this.ifA, 'address', this.macA, 'netns', this.nsA, 'type', 'veth',
      'peer', 'name', this.ifB, 'address', this.macB, 'netns', this.nsB]);
    run('ip', ['-n', this.nsA, 'addr', 'add', `${this.a4}/24`, 'dev', this.ifA]);
    run('ip', ['-n', this.nsA, 'addr', 'add', `${this.a6}/64`, 'dev', this.ifA, 'nodad']);
    run('ip', ['-n', this.nsB, 'addr', 'add', `${this.b4}/24`, 'dev', this.ifB]);
    run('ip', ['-n', this.nsB, 'addr', 'add', `${this.b6}/64`, 'dev', this.ifB, 'nodad']);
    // As on a real NIC: MTU-sized frames on the wire, not GSO super-frames.
    if (!offloads && hasCommand('ethtool')) {
      run('ip', ['netns', 'exec', this.nsA, 'ethtool', '-K', this.ifA, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'], { allowFail: true });
      run('ip', ['netns', 'exec', this.nsB, 'ethtool', '-K', this.ifB, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'], { allowFail: true });
    }
    run('ip', ['-n', this.nsA, 'link', 'set', this.ifA, 'up']);
    run('ip', ['-n', this.nsB, 'link', 'set', this.ifB, 'up']);
  }

  /** A token-bucket rate limit on both ends' egress ("50mbit"), or none (undefined). */
  setRate(rate) {
    if (rate === this.rate) return;
    for (const [ns, dev] of [[this.nsA, this.ifA], [this.nsB, this.ifB]]) {
      run('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'del', 'dev', dev, 'root'], { allowFail: true });
      if (rate) {
        run('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', rate,
          'burst', '64kb', 'latency', '200ms']);
      }
    }
    this.rate = rate;
  }

  /** A token-bucket rate limit on namespace A's loopback, or none. */
  setLoRate(rate) {
    run('ip', ['netns', 'exec', this.nsA, 'tc', 'qdisc', 'del', 'dev', 'lo', 'root'], { allowFail: true });
    if (rate) run('ip', ['netns', 'exec', this.nsA, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', rate, 'burst', '256kb', 'latency', '200ms']);
  }

  /** Kills what is left in our namespaces (only ours: we made them), then deletes them. */
  down() {
    for (const ns of [this.nsA, this.nsB]) {
      if (!this.exists(ns)) continue;
      const pids = run('ip', ['netns', 'pids', ns], { allowFail: true }).stdout.split('\n').filter((p) => /^\d+$/.test(p));
      for (const p of pids) {
        try {
          process.kill(Number(p), 'SIGKILL');
        } catch {
          // gone
        }
      }
      run('ip', ['netns', 'del', ns], { allowFail: true });
    }
  }

  localAddresses(iface) {
    return iface === 'lo' ? ['127.0.0.1', '::1'] : [this.a4, this.a6];
  }
}

// --- child processes --------------------------------------------------------------------------------

/** A child process with its stdout split in lines and JSON events parsed. */
export class Proc {
  constructor(name, child) {
    this.name = name;
    this.child = child;
    this.pid = child.pid;
    this.out = '';
    this.err = '';
    this.lines = [];
    this.code = undefined;
    this.waiters = new Set();
    let partial = '';
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (d) => {
      this.out += d;
      const parts = (partial + d).split('\n');
      partial = parts.pop();
      this.lines.push(...parts);
      this.notify();
    });
    child.stderr?.on('data', (d) => {
      this.err += d;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        if (partial) this.lines.push(partial);
        this.code = code ?? signal ?? 'unknown';
        this.notify();
        resolve(this.code);
      });
      child.on('error', (e) => {
        this.code = `spawn error: ${e.message}`;
        this.notify();
        resolve(this.code);
      });
    });
  }

  notify() {
    for (const w of [...this.waiters]) w();
  }

  events(kind) {
    const list = [];
    for (const l of this.lines) {
      if (!l.startsWith('{')) continue;
      try {
        const e = JSON.parse(l);
        if (kind === undefined || e.event === kind) list.push(e);
      } catch {
        // not an event
      }
    }
    return list;
  }

  /** Resolves once check() returns a value (re-checked on output and exit), or rejects after ms. */
  until(check, what, ms = 20_000) {
    return new Promise((resolve, reject) => {
      const tryIt = () => {
        let v;
        try {
          v = check();
        } catch (e) {
          done();
          reject(e);
          return;
        }
        if (v !== undefined && v !== false) {
          done();
          resolve(v);
        } else if (this.code !== undefined) {
          done();
          reject(new Error(`${this.name} (pid ${this.pid}) exited (${this.code}) before ${what}\nstdout:\n${this.out}\nstderr:\n${this.err}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name} (pid ${this.pid}): no ${what} within ${ms} ms\nstdout:\n${this.out}\nstderr:\n${this.err}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(tryIt);
      };
      this.waiters.add(tryIt);
      tryIt();
    });
  }

  /** The first event of that kind (an "error" event fails). */
  event(kind, ms) {
    return this.until(() => {
      const err = this.events('error')[0];
      if (err) throw new Error(`${this.name}: ${err.message}\n${this.err}`);
      return this.events(kind)[0];
    }, `"${kind}" event`, ms);
  }

  /** Waits for n events of a kind. */
  eventsN(kind, n, ms) {
    return this.until(() => {
      const list = this.events(kind);
      return list.length >= n ? list : undefined;
    }, `${n} "${kind}" events`, ms);
  }

  signal(sig) {
    if (this.code !== undefined) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      // gone
    }
  }

  async stop(sig = 'SIGTERM', ms = 5000) {
    this.signal(sig);
    const r = await Promise.race([this.exited, idle(ms).then(() => undefined)]);
    if (r === undefined) {
      this.signal('SIGKILL');
      await this.exited;
    }
    return this.code;
  }
}

export class ProcGroup {
  constructor() {
    this.procs = [];
  }

  spawn(name, cmd, args, options = {}) {
    const child = spawn(cmd, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], ...options });
    if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
    const p = new Proc(name, child);
    this.procs.push(p);
    return p;
  }

  /** Kills (by pid) what is still running. */
  async cleanup() {
    for (const p of this.procs) p.signal('SIGKILL');
    await Promise.all(this.procs.map((p) => Promise.race([p.exited, idle(3000)])));
    this.procs = [];
  }
}

// --- readiness of a capturing process ----------------------------------------------------------------

function processTree(pid) {
  const parents = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!parents.has(ppid)) parents.set(ppid, []);
      parents.get(ppid).push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(parents.get(tree[i]) ?? []));
  return tree;
}

export function treePids(pid) {
  return processTree(pid);
}

function socketInodes(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        return m ? [m[1]] : [];
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

/** Whether pid (or a descendant) holds an AF_PACKET socket bound to an interface, in its namespace. */
function hasBoundPacketSocket(pid) {
  const tree = processTree(pid);
  const inodes = new Set(tree.flatMap(socketInodes));
  for (const p of tree) {
    let text;
    try {
      text = fs.readFileSync(`/proc/${p}/net/packet`, 'utf8');
    } catch {
      continue;
    }
    const found = text.split('\n').slice(1).some((line) => {
      const cols = line.trim().split(/\s+/);
      return cols.length >= 9 && cols[4] !== '0' && inodes.has(cols[8]);
    });
    if (found) return true;
  }
  return false;
}

export async function waitPacketSocket(proc, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (proc.code !== undefined) throw new Error(`${proc.name} exited (${proc.code}) before capturing:\n${proc.err}`);
    if (hasBoundPacketSocket(proc.pid)) return;
    await sleep(50);
  }
  throw new Error(`${proc.name} (pid ${proc.pid}) opened no packet socket within ${ms} ms:\n${proc.err}`);
}

/** Resident memory (kB) of pid and its descendants. */
export function rssKb(pid) {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]);
    } catch {
      // gone
    }
  }
  return total;
}

// --- the three observers -------------------------------------------------------------------------

/**
 * Starts tcpdump (reference), netmeter (--json, stopped with SIGINT) and optionally nethogs,
 * all in namespace A on iface; resolves once all three capture.
 */
export async function startObservers(group, net, { iface, dir, cli, nethogs = true, netmeterArgs = [] }) {
  const pcap = path.join(dir, 'reference.pcap');
  const tcpdump = group.spawn('tcpdump', 'ip', ['netns', 'exec', net.nsA, 'tcpdump', '-i', iface, '-n', '-s', '0',
    '-B', '65536', '-Z', 'root', '-w', pcap, '-U']);
  const netmeter = group.spawn('netmeter', 'ip', ['netns', 'exec', net.nsA, ...netmeterCommand(cli), '-i', iface,
    '--duration', '3600s', '--json', ...netmeterArgs]);
  let hogs;
  if (nethogs) {
    // -t trace, -v 2 cumulative bytes, -d 1 one refresh a second, -C TCP and UDP.
    hogs = group.spawn('nethogs', 'ip', ['netns', 'exec', net.nsA, 'nethogs', '-t', '-v', '2', '-d', '1', '-C', ...(iface === 'lo' ? ['-a'] : []), iface]);
  }
  await tcpdump.until(() => tcpdump.err.includes('listening on'), 'tcpdump "listening on"');
  await waitPacketSocket(netmeter);
  if (hogs) {
    await waitPacketSocket(hogs);
    await hogs.until(() => hogs.out.includes('Refreshing:'), 'nethogs first refresh');
  }
  return { pcap, dir, tcpdump, netmeter, nethogs: hogs };
}

export async function stopObservers(obs) {
  // netmeter prints its --duration document on SIGINT.
  const [nmCode, , tdCode] = await Promise.all([
    obs.netmeter.stop('SIGINT', 15_000),
    obs.nethogs ? obs.nethogs.stop('SIGINT', 5000) : Promise.resolve(0),
    obs.tcpdump.stop('SIGINT', 10_000),
  ]);
  if (nmCode !== 0) throw new Error(`netmeter exited with ${nmCode}:\n${obs.netmeter.err}`);
  if (tdCode !== 0) throw new Error(`tcpdump exited with ${tdCode}:\n${obs.tcpdump.err}`);
  let report;
  try {
    report = JSON.parse(obs.netmeter.out);
  } catch (e) {
    throw new Error(`netmeter's stdout is not one JSON document (${e.message}):\n${obs.netmeter.out.slice(0, 2000)}`);
  }
  if (obs.dir) {
    fs.writeFileSync(path.join(obs.dir, 'netmeter.json'), obs.netmeter.out);
    if (obs.nethogs) fs.writeFileSync(path.join(obs.dir, 'nethogs.txt'), obs.nethogs.out);
  }
  const dropped = /(\d+) packets? dropped by kernel/.exec(obs.tcpdump.err);
  return {
    report,
    netmeterStderr: obs.netmeter.err.trim(),
    nethogs: obs.nethogs ? parseNethogs(obs.nethogs.out) : undefined,
    tcpdumpDropped: dropped ? Number(dropped[1]) : undefined,
  };
}

// --- nethogs' trace output ----------------------------------------------------------------------------

/**
 * nethogs -t -v 2 prints, every refresh, "Refreshing:" and one line per process,
 * "PROGRAM/PID/UID<TAB>SENT<TAB>RECEIVED" with cumulative bytes (6 significant digits), plus
 * "unknown TCP/0/0" and "unknown UDP/0/0". A process leaves the list some time after its
 * connections end, so each key's largest value over all refreshes is its total.
 */
export function parseNethogs(text) {
  const entries = new Map();
  for (const line of text.split('\n')) {
    const cols = line.split('\t');
    if (cols.length !== 3) continue;
    const key = cols[0];
    const parts = key.split('/');
    if (parts.length < 3) continue;
    const pid = Number(parts[parts.length - 2]);
    const name = parts.slice(0, -2).join('/');
    const sent = Number(cols[1]);
    const received = Number(cols[2]);
    if (!Number.isFinite(sent) || !Number.isFinite(received)) continue;
    let e = entries.get(key);
    if (!e) entries.set(key, (e = { key, name, pid, sentBytes: 0, receivedBytes: 0 }));
    e.sentBytes = Math.max(e.sentBytes, sent);
    e.receivedBytes = Math.max(e.receivedBytes, received);
  }
  const processes = [];
  let unknown = 0;
  // "unknown TCP" / "unknown UDP", and (pid 0) connections nethogs lists by their 4-tuple
  // because it found no process for them: all unattributed.
  const isUnknown = (e) => e.name.startsWith('unknown ') || e.pid === 0;
  for (const e of entries.values()) {
    if (isUnknown(e)) unknown += e.sentBytes + e.receivedBytes;
    else processes.push(e);
  }
  const kinds = new Map();
  for (const e of entries.values()) {
    if (!isUnknown(e)) continue;
    const kind = e.name.startsWith('unknown ') ? e.name : 'connections listed with pid 0';
    kinds.set(kind, (kinds.get(kind) ?? 0) + e.sentBytes + e.receivedBytes);
  }
  return { processes, unknownBytes: unknown, unknownByKind: [...kinds].map(([name, bytes]) => ({ name, bytes })) };
}

// --- the reference capture ---------------------------------------------------------------------------

export function canon(address) {
  if (address === undefined || address === null) return address;
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1] : address.toLowerCase();
}

/** Every frame of a capture: wire length, time, and for TCP/UDP over IP the 4-tuple. */
export function readCapture(file) {
  const fields = ['frame.len', 'frame.time_epoch', 'eth.src', 'ip.proto', 'ipv6.nxt', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst',
    'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport'];
  const r = spawnSync('tshark', ['-n', '-r', file, '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE',
    '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=f', ...fields.flatMap((f) => ['-e', f])],
  { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`tshark failed on ${file}: ${r.stderr}`);
  const packets = [];
  for (const line of r.stdout.split('\n')) {
    if (line === '') continue;
    const [len, ts, ethSrc, ipProto, ip6Nxt, ipSrc, ipDst, ip6Src, ip6Dst, tcpSrc, tcpDst, udpSrc, udpDst] = line.split('\t');
    const next = Number(ipProto || ip6Nxt || -1);
    // The outer header decides: an ICMP error quoting a UDP header is not UDP.
    const protocol = next === 6 && tcpSrc ? 'tcp' : next === 17 && udpSrc ? 'udp' : null;
    packets.push({
      len: Number(len),
      ts: Number(ts),
      ethSrc: ethSrc ?? '',
      protocol,
      src: canon(ipSrc || ip6Src || ''),
      dst: canon(ipDst || ip6Dst || ''),
      srcPort: Number(tcpSrc || udpSrc || 0),
      dstPort: Number(tcpDst || udpDst || 0),
    });
  }
  return packets;
}

// --- the truth and the scores ----------------------------------------------------------------------------

/**
 * Truth: owners (the processes a socket belongs to: several pids when a socket is shared)
 * and rules mapping a socket's local end (and, where given, its remote end) to an owner.
 *   owner: { id, label, idents: [{ pid, name? }] }   name: a substring the tool's name must show
 *   rule:  { owner, protocol, localPort?, localAddress?, remotePort?, remoteAddress?, fromTs?, toTs? }
 */
export class Truth {
  constructor() {
    this.owners = new Map();
    this.rules = [];
  }

  owner(id, label, idents) {
    this.owners.set(id, { id, label, idents });
    return id;
  }

  rule(owner, spec) {
    if (!this.owners.has(owner)) throw new Error(`rule for unknown owner ${owner}`);
    this.rules.push({ owner, ...spec, localAddress: canon(spec.localAddress), remoteAddress: canon(spec.remoteAddress) });
  }

  /** Whether some rule holds only for a time span (one 4-tuple used by two processes in turn). */
  get timeSplit() {
    return this.rules.some((r) => r.fromTs !== undefined || r.toTs !== undefined);
  }

  /**
   * The owner of a local socket end, or undefined. ts (a packet's time, seconds since the
   * epoch) selects among rules with fromTs/toTs; without ts those bounds are ignored.
   */
  match(protocol, localAddress, localPort, remoteAddress, remotePort, ts) {
    const la = canon(localAddress);
    const ra = canon(remoteAddress);
    for (const r of this.rules) {
      if (r.protocol !== protocol) continue;
      if (ts !== undefined && r.fromTs !== undefined && ts < r.fromTs) continue;
      if (ts !== undefined && r.toTs !== undefined && ts >= r.toTs) continue;
      if (r.localPort !== undefined && r.localPort !== localPort) continue;
      if (r.localAddress !== undefined && r.localAddress !== la) continue;
      if (r.remotePort !== undefined && r.remotePort !== remotePort) continue;
      if (r.remoteAddress !== undefined && r.remoteAddress !== ra) continue;
      return r.owner;
    }
    return undefined;
  }
}

/** Does a tool's process entry ({pid, name}) belong to the owner? */
function identMatches(owner, pid, name) {
  return owner.idents.some((i) => i.pid === pid && (i.name === undefined || (name ?? '').includes(i.name)));
}

/**
 * What the reference capture says each owner's sockets sent and received: every TCP/UDP
 * frame counts for each local end (once on a veth, twice on loopback where both ends are ours).
 */
export function truthFromCapture(packets, truth, localAddresses) {
  const local = new Set(localAddresses.map(canon));
  const isLocal = (a) => local.has(a) || /^127\./.test(a);
  const byOwner = new Map([...truth.owners.keys()].map((k) => [k, { sentBytes: 0, receivedBytes: 0, packets: 0 }]));
  const byTuple = new Map();
  const unmatched = { packets: 0, bytes: 0, examples: new Set() };
  let tcpUdpBytes = 0;
  for (const p of packets) {
    if (!p.protocol) continue;
    tcpUdpBytes += p.len;
    const ends = [];
    if (isLocal(p.src)) ends.push({ dir: 'sentBytes', la: p.src, lp: p.srcPort, ra: p.dst, rp: p.dstPort });
    if (isLocal(p.dst)) ends.push({ dir: 'receivedBytes', la: p.dst, lp: p.dstPort, ra: p.src, rp: p.srcPort });
    for (const e of ends) {
      const owner = truth.match(p.protocol, e.la, e.lp, e.ra, e.rp, p.ts);
      if (owner === undefined) {
        unmatched.packets++;
        unmatched.bytes += p.len;
        if (unmatched.examples.size < 5) unmatched.examples.add(`${p.protocol} ${e.la}:${e.lp} <-> ${e.ra}:${e.rp}`);
        continue;
      }
      const o = byOwner.get(owner);
      o[e.dir] += p.len;
      o.packets++;
      const key = `${p.protocol} ${e.la} ${e.lp} ${e.ra} ${e.rp}`;
      let t = byTuple.get(key);
      if (!t) byTuple.set(key, (t = { owner, bytes: 0 }));
      t.bytes += p.len;
    }
  }
  let total = 0;
  for (const o of byOwner.values()) total += o.sentBytes + o.receivedBytes;
  return { byOwner, byTuple, total, tcpUdpBytes, unmatched: { ...unmatched, examples: [...unmatched.examples] } };
}

/**
 * Per-process scoring (the same for both tools): a tool's per-process totals against each
 * owner's true bytes. right = sum over owners of min(tool, truth); wrong = bytes a process was
 * credited beyond its own (or credited to a process that owns none of these sockets);
 * unknown = the tool's unknown bucket; missed = the rest of the truth.
 */
export function scoreProcesses(truth, reference, entries, unknownBytes) {
  const toolByOwner = new Map([...truth.owners.keys()].map((k) => [k, 0]));
  const creditedTo = new Map([...truth.owners.keys()].map((k) => [k, []]));
  let stray = 0;
  const strays = [];
  for (const e of entries) {
    const bytes = e.sentBytes + e.receivedBytes;
    if (bytes === 0) continue;
    const owner = [...truth.owners.values()].find((o) => identMatches(o, e.pid, e.name));
    if (owner) {
      toolByOwner.set(owner.id, toolByOwner.get(owner.id) + bytes);
      creditedTo.get(owner.id).push({ pid: e.pid, name: e.name, bytes });
    } else {
      stray += bytes;
      strays.push({ pid: e.pid, name: e.name, bytes });
    }
  }
  let right = 0;
  let wrong = stray;
  const owners = [];
  for (const o of truth.owners.values()) {
    const t = reference.byOwner.get(o.id);
    const trueBytes = t.sentBytes + t.receivedBytes;
    const tool = toolByOwner.get(o.id);
    right += Math.min(tool, trueBytes);
    wrong += Math.max(0, tool - trueBytes);
    owners.push({ id: o.id, label: o.label, trueBytes, toolBytes: tool, creditedTo: creditedTo.get(o.id) });
  }
  return finish(reference.total, right, wrong, unknownBytes, { owners, strays });
}

/** netmeter only: its connection records, each matched to the truth by its own 4-tuple. */
export function scoreConnections(truth, reference, connections) {
  let right = 0;
  let wrong = 0;
  let unknown = 0;
  let outside = 0;
  const wrongList = [];
  for (const c of connections) {
    const bytes = c.sentBytes + c.receivedBytes;
    const ownerId = truth.match(c.protocol, c.localAddress, c.localPort, c.remoteAddress, c.remotePort);
    if (ownerId === undefined) {
      outside += bytes;
      continue;
    }
    const owner = truth.owners.get(ownerId);
    if (c.pid === null) unknown += bytes;
    else if (identMatches(owner, c.pid, c.name)) right += bytes;
    else {
      wrong += bytes;
      if (wrongList.length < 10) wrongList.push({ tuple: `${c.protocol} ${c.localAddress}:${c.localPort} ${c.remoteAddress}:${c.remotePort}`, pid: c.pid, name: c.name, owner: owner.label, bytes });
    }
  }
  return finish(reference.total, right, wrong, unknown, { outside, wrongList });
}

function finish(total, right, wrong, unknown, extra) {
  const counted = right + wrong + unknown;
  const missed = Math.max(0, total - counted);
  const over = Math.max(0, counted - total);
  const share = (x) => (total > 0 ? x / total : 0);
  return {
    trueBytes: total, right, wrong, unknown, missed, over,
    rightShare: share(right), wrongShare: share(wrong), unknownShare: share(unknown), missedShare: share(missed), overShare: share(over),
    ...extra,
  };
}

export function pct(x, digits = 2) {
  return `${(x * 100).toFixed(digits)}%`;
}

/** A node binary under another name (a symlink), so the process's comm and argv[0] say which workload it is. */
export function namedNode(binDir, name) {
  fs.mkdirSync(binDir, { recursive: true });
  const link = path.join(binDir, name);
  if (!fs.existsSync(link)) fs.symlinkSync(process.execPath, link);
  return link;
}
