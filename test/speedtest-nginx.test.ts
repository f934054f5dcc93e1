// netmeter speedtest against Debian's nginx serving Cloudflare-style paths, configured
// here in a temp directory on a loopback port: __down?bytes=N honoured by asking nginx's
// static file handler for the file's last N bytes (a suffix range, through a proxy hop to
// itself), and __up proxied to a location that answers only once nginx has read the whole
// body — which is what lets the client count it as acknowledged.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { runSpeedtest } from '../src/speedtest/run.js';
import { hasCommand } from './support/run-cli.js';
import { tempDir } from './support/live-harness.js';
import { QUICK_METHOD, refusedPort } from './support/speedtest-stand-ins.js';

const NGINX = ['/usr/sbin/nginx', 'nginx'].find((p) => existsSync(p) || hasCommand(p));
const skip = !NGINX ? 'nginx is not installed (apt-get install nginx-light)' : process.getuid?.() !== 0 ? 'nginx workers need root here (user root in the config)' : false;

function nginxConfig(dir: string, port: number): string {
  return `
worker_processes 1;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    # __down?bytes=N: the last N bytes of a random file (bytes=0 is the ping).
    location = /__down {
      if ($arg_bytes = "0") { return 200; }
      proxy_pass http://127.0.0.1:${port}/blob;
      proxy_set_header Range "bytes=-$arg_bytes";
      proxy_buffering off;
    }
    location = /blob { root ${dir}; add_header Cache-Control no-store; }
    # __up: nginx reads the whole body before the proxied answer comes back.
    location = /__up {
      client_max_body_size 64m;
      proxy_pass http://127.0.0.1:${port}/sink;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
    }
    location = /sink { return 200; }
    location = /cdn-cgi/trace { default_type text/plain; return 200 "ip=$remote_addr\\n"; }
  }
}
`;
}

async function waitForPort(port: number, nginx: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (nginx.exitCode !== null) throw new Error(`nginx exited with ${nginx.exitCode}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('nginx did not start listening');
}

test('Cloudflare-style paths served by nginx: complete result, sizes honoured, uploads acknowledged', { skip }, async () => {
  const dir = tempDir('speed-nginx');
  const port = await refusedPort();
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir.dir, sub));
  writeFileSync(join(dir.dir, 'blob'), randomBytes(8 << 20));
  writeFileSync(join(dir.dir, 'nginx.conf'), nginxConfig(dir.dir, port));
  const nginx = spawn(NGINX!, ['-p', dir.dir, '-e', join(dir.dir, 'error.log'), '-c', join(dir.dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
  try {
    await waitForPort(port, nginx);
    const r = await runSpeedtest({
      server: { url: `http://127.0.0.1:${port}/`, defaults: { server: 'http://127.0.0.1:1/', serverList: 'http://127.0.0.1:1/' }, selectionPings: 1 },
      method: QUICK_METHOD,
      pingCount: 3,
      loadedPingIntervalMs: 50,
      stallMs: 5000,
    });
    assert.equal(r.status, 'complete', `${r.error} (nginx log: ${readFileSync(join(dir.dir, 'error.log'), 'utf8').slice(-400)})`);
    assert.equal(r.server.protocol, 'cloudflare', 'found by asking: empty.php is 404 here, __down answers');
    assert.equal(r.path.publicAddress, '127.0.0.1', 'from /cdn-cgi/trace');
    assert.ok(r.download!.mbps! > 0 && r.download!.countedBytes > 0);
    assert.ok(r.upload!.mbps! > 0 && r.upload!.countedBytes > 0);
    assert.equal(r.packetLoss, null, 'nginx answers no UDP probes');
  } finally {
    nginx.kill('SIGTERM');
    await new Promise((resolve) => (nginx.exitCode !== null ? resolve(null) : nginx.once('exit', resolve)));
    dir.remove();
  }
});
