// An HTTP/1.1 response read incrementally from raw socket bytes, for downloads: the status
// and headers, then the body counted (never kept) whether its length is given, chunked, or
// runs to the end of the connection. This lets downloads read a socket straight into one
// fixed buffer instead of going through node's HTTP client, whose per-chunk JavaScript
// parsing made it the bottleneck on fast links (docs/speedtest.md, Benchmark).

export interface ResponseHead {
  status: number;
  headers: Record<string, string>;
}

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'until-close' | 'done';

const MAX_HEAD = 64 * 1024;

export class ResponseFormatError extends Error {
  override name = 'ResponseFormatError';
}

export class ResponseReader {
  head: ResponseHead | undefined;
  /** Body bytes seen so far (chunk framing excluded). */
  bodyBytes = 0;
  private state: State = 'head';
  private headText = '';
  private remaining = 0;
  private line = '';

  /** onHead may throw to refuse the response (a wrong status or length) before any body is counted. */
  constructor(
    private readonly onBody: (n: number) => void = () => {},
    private readonly onHead: (head: ResponseHead) => void = () => {},
  ) {}

  get done(): boolean {
    return this.state === 'done';
  }

  /** The body runs to the connection's end: the close completes it. */
  get endsWithClose(): boolean {
    return this.state === 'until-close';
  }

  /** Whether the connection may carry another request afterwards. */
  get reusable(): boolean {
    return this.head !== undefined && !/close/i.test(this.head.headers.connection ?? '') && this.state === 'done';
  }

  /** Feeds buf[start, end); returns the bytes used (the rest belongs to nothing: a server must not send more). */
  push(buf: Buffer, start = 0, end = buf.length): number {
    let i = start;
    while (i < end && this.state !== 'done') {
      switch (this.state) {
        case 'head': {
          // Header bytes are few: collect them as text until the blank line.
          const stop = Math.min(end, i + MAX_HEAD);
          const text = buf.toString('latin1', i, stop);
          const combined = this.headText + text;
          const at = combined.indexOf('\r\n\r\n');
          if (at < 0) {
            this.headText = combined;
            if (this.headText.length > MAX_HEAD) throw new ResponseFormatError('response headers longer than 64 KiB');
            i = stop;
            break;
          }
          const used = at + 4 - this.headText.length;
          this.parseHead(combined.slice(0, at));
          this.headText = '';
          i += used;
          break;
        }
        case 'length': {
          const n = Math.min(this.remaining, end - i);
          this.count(n);
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) this.state = 'done';
          break;
        }
        case 'until-close': {
          this.count(end - i);
          i = end;
          break;
        }
        case 'chunk-size':
        case 'chunk-end':
        case 'trailers': {
          const byte = buf[i++]!;
          if (this.state === 'chunk-end' && byte !== 0x0d && byte !== 0x0a) throw new ResponseFormatError('chunk data is not followed by CRLF');
          if (byte !== 0x0a) {
            if (this.line.length > 1024) throw new ResponseFormatError('a chunk header line is too long');
            this.line += String.fromCharCode(byte);
            break;
          }
          const line = this.line.replace(/\r$/, '');
          this.line = '';
          if (this.state === 'chunk-end') {
            if (line !== '') throw new ResponseFormatError('chunk data is not followed by CRLF');
            this.state = 'chunk-size';
          } else if (this.state === 'chunk-size') {
            const size = parseInt(line.split(';')[0]!.trim(), 16);
            if (!Number.isFinite(size) || size < 0 || !/^[0-9a-fA-F]+/.test(line.trim())) throw new ResponseFormatError(`bad chunk size '${line.slice(0, 20)}'`);
            if (size === 0) this.state = 'trailers';
            else {
              this.remaining = size;
              this.state = 'chunk-data';
            }
          } else if (line === '') this.state = 'done'; // end of trailers
          break;
        }
        case 'chunk-data': {
          const n = Math.min(this.remaining, end - i);
          this.count(n);
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) this.state = 'chunk-end';
          break;
        }
      }
    }
    return i - start;
  }

  private count(n: number): void {
    if (n <= 0) return;
    this.bodyBytes += n;
    this.onBody(n);
  }

  private parseHead(text: string): void {
    const [statusLine, ...lines] = text.split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
    if (!match) throw new ResponseFormatError(`not an HTTP/1.1 response ('${(statusLine ?? '').slice(0, 30)}')`);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(match[1]);
    if (status === 100) return; // an interim answer: the real one follows
    this.head = { status, headers };
    this.onHead(this.head);
    if (status === 204 || status === 304 || (status >= 300 && status < 400 && headers['content-length'] === undefined && !headers['transfer-encoding'])) {
      this.state = 'done';
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) this.state = 'chunk-size';
    else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (!Number.isSafeInteger(length) || length < 0) throw new ResponseFormatError(`bad content-length '${headers['content-length']}'`);
      this.remaining = length;
      this.state = length === 0 ? 'done' : 'length';
    } else this.state = 'until-close';
  }
}
