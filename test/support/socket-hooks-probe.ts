// Run inside a network namespace by test/kernel-socket-hooks.test.ts, as root:
// `node socket-hooks-probe.js all|tracepoints|off` (NETMETER_KERNEL_EVENTS). Reads /proc
// once, then starts a UDP server and a TCP server, each of which serves one exchange with
// this process and exits within 200 ms of binding, and asks LiveAttribution who owned their
// ports. Prints one JSON line: which kernel programs ran, each server's pid and the owner
// found (null when none).

import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { KernelOwners } from '../../src/attribute/kernel-owners.js';
import { LiveAttribution } from '../../src/attribute/live-attribution.js';
import { SnapshotWorker } from '../../src/attribute/snapshot-worker.js';
import { kernelEventsChoice } from '../../src/session/system-io.js';

const UDP_SERVER = `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send('pong',r.port,r.address,()=>process.exit(0)));s.bind(0,'127.0.0.1',()=>console.log(s.address().port));`;
const TCP_SERVER = `const v=require('net').createServer((c)=>{c.end('hi');v.close();c.on('close',()=>process.exit(0))});v.listen(0,'127.0.0.1',()=>console.log(v.address().port));`;

/** Starts a server child; its pid and port (its first line), and a promise of its exit. */
async function server(code: string): Promise<{ pid: number; port: number; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))));
  return { pid: child.pid!, port, exited };
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const choice = kernelEventsChoice(process.argv[2]);
  const worker = new SnapshotWorker();
  let reads = 0;
  const a = new LiveAttribution({
    kernelEvents: (options) => KernelOwners.open(options, choice),
    takeSnapshot: (fs, ended, tcp) => (reads++, worker.take(fs.root, ended, tcp)),
  });
  await a.refresh();

  const udp = await server(UDP_SERVER);
  const client = createSocket('udp4');
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', () => resolve()));
  const answered = new Promise((resolve) => client.once('message', resolve));
  client.send('ping', udp.port, '127.0.0.1');
  await answered;
  await udp.exited;
  const udpClientPort = client.address().port;
  client.close();

  const tcp = await server(TCP_SERVER);
  const socket = connect(tcp.port, '127.0.0.1');
  socket.resume();
  await new Promise((resolve) => socket.once('connect', resolve));
  const tcpClientPort = socket.localPort!;
  await new Promise((resolve) => socket.once('close', resolve));
  await tcp.exited;

  // The kernel's events come through the event loop; the servers' processes are gone, so
  // their names come from the kernel (a read of /proc would find neither).
  let udpOwner, tcpOwner;
  for (let i = 0; i < 100 && !(udpOwner && tcpOwner); i++) {
    udpOwner = a.owner('udp', '127.0.0.1', udp.port, '127.0.0.1', udpClientPort);
    tcpOwner = a.owner('tcp', '127.0.0.1', tcp.port, '127.0.0.1', tcpClientPort);
    if (!(udpOwner && tcpOwner)) await wait(20);
  }
  const sources = a.ownerSources;
  a.close();
  await worker.close();
  process.stdout.write(`${JSON.stringify({
    kernel: sources.kernel,
    ...(sources.hooksUnavailable ? { hooksUnavailable: sources.hooksUnavailable } : {}),
    udp: { server: udp.pid, owner: udpOwner?.pid ?? null },
    tcp: { server: tcp.pid, owner: tcpOwner?.pid ?? null },
    reads,
  })}\n`);
}

void main();
