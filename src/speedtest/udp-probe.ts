// Packet loss between a netmeter client and a netmeter speedtest-server: numbered UDP
// probes that the server echoes unchanged. A probe is 32 bytes: "NMSP", a version byte,
// a type byte, an 8-byte token that ties echoes to this test, a 4-byte sequence number,
// zero padding. The server answers only such packets, with exactly as many bytes, so it
// cannot be used to amplify traffic.

import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import type { PacketLoss } from './result.js';
import { round3 } from './result.js';

export const PROBE_MAGIC = Buffer.from('NMSP');
export const PROBE_BYTES = 32;
const VERSION = 1;
const TYPE_PROBE = 1;

/** The probe as sent, or null for anything else (which the server ignores). */
export function isProbe(packet: Buffer): boolean {
  return packet.length === PROBE_BYTES && packet.subarray(0, 4).equals(PROBE_MAGIC) && packet[4] === VERSION && packet[5] === TYPE_PROBE;
}

export function encodeProbe(token: Buffer, sequence: number): Buffer {
  const packet = Buffer.alloc(PROBE_BYTES);
  PROBE_MAGIC.copy(packet, 0);
  packet[4] = VERSION;
  packet[5] = TYPE_PROBE;
  token.copy(packet, 6, 0, 8);
  packet.writeUInt32BE(sequence >>> 0, 14);
  return packet;
}

export interface ProbeOptions {
  count: number;
  intervalMs: number;
  /** How long to wait for echoes after the last probe. */
  waitMs: number;
  family: 4 | 6;
  localAddress?: string;
}

export async function measurePacketLoss(host: string, port: number, options: ProbeOptions): Promise<PacketLoss> {
  const socket = dgram.createSocket(options.family === 6 ? 'udp6' : 'udp4');
  const token = randomBytes(8);
  const seen = new Set<number>();
  socket.on('message', (packet) => {
    if (!isProbe(packet) || !packet.subarray(6, 14).equals(token)) return;
    const sequence = packet.readUInt32BE(14);
    if (sequence < options.count) seen.add(sequence);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port: 0, ...(options.localAddress ? { address: options.localAddress } : {}) }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // Sending errors (an unreachable port answered with ICMP) count as losses, not failures.
    socket.on('error', () => {});
    for (let sequence = 0; sequence < options.count; sequence++) {
      socket.send(encodeProbe(token, sequence), port, host);
      await sleep(options.intervalMs);
    }
    await sleep(options.waitMs);
  } finally {
    socket.close();
  }
  const received = seen.size;
  return { sent: options.count, received, lossPercent: round3(((options.count - received) / options.count) * 100) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
