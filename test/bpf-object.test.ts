// The shipped BPF object (native/bpf/socket_owners.bpf.o) is what its source builds to:
// `npm run build:bpf` into a temporary file gives the same bytes, so the object users load
// is the reviewed C and nothing else. The build is deterministic (build.sh: relative paths,
// DWARF stripped, BTF kept): no directory or machine name may appear in the object. Needs
// clang, llvm-strip and libbpf-dev; the same clang as the object was built with (its
// version is recorded beside it), since another version emits other instructions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, hasCommand } from './support/run-cli.js';
import { tempDir } from './support/live-harness.js';

const BPF = join(REPO_ROOT, 'native', 'bpf');
const SHIPPED = join(BPF, 'socket_owners.bpf.o');

function skipReason(): string | false {
  if (!hasCommand('clang') || !hasCommand('llvm-strip')) return 'needs clang and llvm (apt-get install clang llvm)';
  if (!existsSync('/usr/include/bpf/bpf_helpers.h')) return 'needs libbpf-dev (bpf_helpers.h)';
  const version = spawnSync('clang', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
  const recorded = readFileSync(join(BPF, 'socket_owners.bpf.o.clang'), 'utf8').trim();
  if (version !== recorded) return `the object was built with ${recorded}, this is ${version}`;
  return false;
}

test('rebuilding the BPF object from its source gives the shipped bytes', { skip: skipReason(), timeout: 60_000 }, () => {
  const tmp = tempDir('bpf-object');
  try {
    const out = join(tmp.dir, 'socket_owners.bpf.o');
    const built = spawnSync('sh', [join(BPF, 'build.sh'), out], { encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    const rebuilt = readFileSync(out);
    const shipped = readFileSync(SHIPPED);
    assert.ok(rebuilt.equals(shipped), 'native/bpf/socket_owners.bpf.o is stale: run `npm run build:bpf` and commit it');
  } finally {
    tmp.remove();
  }
});

test('the shipped object names no build directory, and carries the BTF that CO-RE needs', () => {
  const shipped = readFileSync(SHIPPED);
  assert.equal(shipped.indexOf(REPO_ROOT), -1, 'no absolute path of the build');
  assert.equal(shipped.indexOf('/home/'), -1);
  assert.ok(shipped.indexOf('.BTF') > 0 && shipped.indexOf('.BTF.ext') > 0, 'BTF and its relocations are kept');
  assert.equal(shipped.indexOf('.debug_info'), -1, 'no DWARF (it names the build directory)');
});
