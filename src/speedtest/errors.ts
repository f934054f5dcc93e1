// What can go wrong talking to a speed test server, each as one line that names the server
// and says what to check. The transport turns socket, TLS and HTTP failures into these.

import { NetmeterError } from '../errors.js';

export class SpeedtestError extends NetmeterError {
  override name = 'SpeedtestError';
}

/** No bytes moved for the stall timeout: the result so far is kept as partial. */
export class StallError extends SpeedtestError {
  override name = 'StallError';
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** A socket-level failure (refused, unknown host, TLS, reset) as a SpeedtestError. */
export function describeNetworkError(error: unknown, url: URL): Error {
  if (error instanceof SpeedtestError) return error;
  const code = String((error as NodeJS.ErrnoException)?.code ?? '');
  const where = `${url.hostname}${url.port ? `:${url.port}` : ''}`;
  const detail = error instanceof Error ? error.message.replace(/\s+/g, ' ') : String(error);
  if (code === 'ECONNREFUSED') return new SpeedtestError(`connection refused by ${where}: is a speed test server listening there?`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL') {
    return new SpeedtestError(`unknown host ${url.hostname}: check the server URL`);
  }
  if (TLS_CODES.has(code) || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /certificate|SSL/i.test(detail)) {
    return new SpeedtestError(`TLS failure with ${where} (${code || detail}): the server's certificate is not trusted here; check the URL or use http://`);
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') return new SpeedtestError(`${where} closed the connection (${code}) in the middle of a request`);
  if (code === 'EADDRNOTAVAIL' || code === 'EINVAL') return new SpeedtestError(`cannot use the chosen local address to reach ${where} (${code}): check --interface and --ipv4/--ipv6`);
  if (code === 'ENETUNREACH' || code === 'EHOSTUNREACH') return new SpeedtestError(`${where} is unreachable (${code}): check the network and --ipv4/--ipv6`);
  if (code === 'ETIMEDOUT') return new SpeedtestError(`connecting to ${where} timed out`);
  return new SpeedtestError(`${where}: ${code ? `${code}: ` : ''}${detail}`);
}
