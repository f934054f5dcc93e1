// The download's own HTTP/1.1 response reader: body bytes counted for length-given,
// chunked and read-to-close bodies, whatever way the bytes are split across reads, and
// malformed responses refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseReader } from '../src/speedtest/response-reader.js';

/** Feeds `bytes` in pieces of the given sizes (cycled). */
function feed(reader: ResponseReader, bytes: Buffer, sizes: number[]): number {
  let used = 0;
  for (let i = 0, k = 0; i < bytes.length; k++) {
    const n = Math.min(sizes[k % sizes.length]!, bytes.length - i);
    used += reader.push(bytes, i, i + n);
    i += n;
  }
  return used;
}

const body = Buffer.alloc(10_000, 7);
const lengthResponse = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10000\r\nX-A: b\r\n\r\n'), body]);
const chunkedResponse = Buffer.concat([
  Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'),
  Buffer.from('1000;ext=1\r\n'), body.subarray(0, 4096), Buffer.from('\r\n'),
  Buffer.from('1710\r\n'), body.subarray(4096), Buffer.from('\r\n'),
  Buffer.from('0\r\nTrailer: x\r\n\r\n'),
]);

for (const [name, bytes] of [['content-length', lengthResponse], ['chunked', chunkedResponse]] as const) {
  for (const sizes of [[bytes.length], [1], [3, 7, 1000], [13]]) {
    test(`${name} body read in pieces of ${sizes.join(',')}: 10000 body bytes, done, reusable`, () => {
      let counted = 0;
      let heads = 0;
      const reader = new ResponseReader((n) => (counted += n), (head) => {
        heads++;
        assert.equal(head.status, 200);
      });
      assert.equal(feed(reader, bytes, sizes), bytes.length);
      assert.equal(reader.bodyBytes, 10_000);
      assert.equal(counted, 10_000);
      assert.equal(heads, 1);
      assert.equal(reader.done, true);
      assert.equal(reader.reusable, true);
    });
  }
}

test('no length: the body runs to the close; Connection: close is not reusable; 100 Continue is skipped', () => {
  const reader = new ResponseReader();
  reader.push(Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabcdef'));
  assert.equal(reader.head?.status, 200);
  assert.equal(reader.endsWithClose, true);
  assert.equal(reader.bodyBytes, 6);
  const closing = new ResponseReader();
  closing.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab'));
  assert.equal(closing.done, true);
  assert.equal(closing.reusable, false);
});

test('a refused head (onHead throws) counts no body byte', () => {
  let counted = 0;
  const reader = new ResponseReader((n) => (counted += n), (head) => {
    if (head.status !== 200) throw new Error(`HTTP ${head.status}`);
  });
  assert.throws(() => reader.push(Buffer.from('HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nboom')), /HTTP 500/);
  assert.equal(counted, 0);
});

test('malformed responses are refused', () => {
  assert.throws(() => new ResponseReader().push(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n')), /not an HTTP\/1\.1 response/);
  assert.throws(() => new ResponseReader().push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n')), /bad content-length/);
  assert.throws(() => new ResponseReader().push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')), /bad chunk size/);
  assert.throws(() => new ResponseReader().push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY')), /not followed by CRLF/);
  assert.throws(() => new ResponseReader().push(Buffer.from(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(70_000)}`)), /longer than 64 KiB/);
});
