// What the accountant needs to know about the host: which addresses are its own and which
// process owns a socket. Live capture, replay with a snapshot and replay with `--local`
// each provide one.

import type { ProcessInfo, Protocol } from '../attribute/types.js';

export interface Attribution {
  isLocal(address: string): boolean;
  /**
   * The process holding the socket with this local end, or undefined when none is known.
   * at: when the packet asking was captured (seconds since the epoch), when there is one.
   */
  owner(protocol: Protocol, localAddress: string, localPort: number, remoteAddress: string, remotePort: number, at?: number): ProcessInfo | undefined;
}
