// The command line as a user meets it: a mistake names the option in one line and points to
// the help of the command that failed; --version; and the help, the man page and the bash
// completion all made from one option table per command (so none can list an option the
// others lack).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseCommandLine, renderHelp, optionFlags, type CommandSpec } from '../src/cli/command-line.js';
import { commandTables } from '../src/cli/command-tables.js';
import { renderManPage } from '../src/cli/man-page.js';
import { netmeterVersion } from '../src/cli/main-command.js';
import { UsageError } from '../src/cli/usage-error.js';
import { CLI, REPO_ROOT, hasCommand, runCli } from './support/run-cli.js';

const TABLE = {
  name: 'replay',
  options: [
    { name: 'output', short: 'o', type: 'string', value: 'FILE', help: 'where' },
    { name: 'json', type: 'boolean', help: 'JSON' },
    { name: 'interface', short: 'i', type: 'string', multiple: true, help: 'IF' },
  ],
} as const;

test('parseCommandLine: the table gives typed values and defaults', () => {
  const { values, positionals } = parseCommandLine(TABLE, ['-o', 'x', '-i', 'lo', '--interface=eth0', 'file']);
  assert.deepEqual({ ...values }, { output: 'x', json: false, interface: ['lo', 'eth0'] });
  assert.deepEqual(positionals, ['file']);
});

test("parseCommandLine: parseArgs' errors become one-line usage errors for this command", () => {
  const cases: Array<[string[], string]> = [
    [['--frobnicate'], "unknown option '--frobnicate'"],
    [['-z'], "unknown option '-z'"],
    [['--output'], "option '--output' needs a value"],
    [['-o'], "option '--output' needs a value"],
    [['--json=yes'], "option '--json' takes no value"],
  ];
  for (const [argv, message] of cases) {
    assert.throws(() => parseCommandLine(TABLE, argv), (error: unknown) => {
      assert.ok(error instanceof UsageError, String(error));
      assert.equal(error.message, message);
      assert.equal(error.command, 'replay');
      return true;
    });
  }
});

test("the CLI: an unknown option is one line naming it, and the failed command's --help", async () => {
  const cases: Array<[string[], string, string]> = [
    [['replay', '--frobnicate', 'x.pcap'], "unknown option '--frobnicate'", 'replay'],
    [['report', '--frobnicate'], "unknown option '--frobnicate'", 'report'],
    [['snapshot', '--frobnicate'], "unknown option '--frobnicate'", 'snapshot'],
    [['replay', '--sockets'], "option '--sockets' needs a value", 'replay'],
    [['report', '--graph=yes'], "option '--graph' takes no value", 'report'],
    [['snapshot', 'extra'], "unexpected argument 'extra'", 'snapshot'],
    // Commands that still call parseArgs themselves: main.ts knows which one ran.
    [['--frobnicate'], "unknown option '--frobnicate'", 'live'],
    [['live', '--frobnicate'], "unknown option '--frobnicate'", 'live'],
    [['record', '--frobnicate'], "unknown option '--frobnicate'", 'record'],
    [['daemon', '--frobnicate'], "unknown option '--frobnicate'", 'daemon'],
    [['frobnicate'], "unknown command 'frobnicate'", ''],
  ];
  for (const [args, message, command] of cases) {
    const result = await runCli(args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, `netmeter: ${message}\nTry 'netmeter ${command ? `${command} ` : ''}--help'.\n`, args.join(' '));
  }
});

test('--version prints the package version', async () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(netmeterVersion(), pkg.version);
  const result = await runCli(['--version']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, `netmeter ${pkg.version}\n`);
  const help = await runCli(['--help']);
  assert.match(help.stdout, /^ {2}--version +print netmeter's version$/m);
});

/** Every option a table shows, as --help spells it. */
const shown = (table: CommandSpec) => table.options.filter((o) => !o.hidden);

test("each command's --help is its table: every shown option with its value and help", async () => {
  for (const table of commandTables().filter((t) => t.name !== '')) {
    const result = await runCli([table.name, '--help']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, renderHelp(table));
    for (const option of shown(table)) assert.match(result.stdout, new RegExp(`^ {2}${optionFlags(option).replace(/[[\]]/g, '\\$&')} +${option.help.split('\n')[0]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    for (const option of table.options.filter((o) => o.hidden)) assert.doesNotMatch(result.stdout, new RegExp(`--${option.name}\\b`));
  }
});

test('docs/netmeter.1 is what the tables make (run `npm run man` after changing an option), and man reads it cleanly', () => {
  const page = renderManPage(commandTables(), netmeterVersion());
  assert.equal(readFileSync(join(REPO_ROOT, 'docs', 'netmeter.1'), 'utf8'), page, 'docs/netmeter.1 is stale: run npm run man');
  for (const table of commandTables()) {
    for (const option of shown(table)) assert.ok(page.includes(`\\fB\\-\\-${option.name.replace(/-/g, '\\-')}\\fR`), `${table.name || 'netmeter'} --${option.name} in the man page`);
  }
  if (hasCommand('groff')) {
    const result = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', join(REPO_ROOT, 'docs', 'netmeter.1')], { encoding: 'utf8' });
    assert.equal(result.status, 0);
    assert.equal(result.stderr, '', 'groff has no warnings');
  }
});

/** What bash completes `netmeter WORDS…` to, the last word being the one under the cursor. */
function complete(script: string, words: string[]): string[] {
  const line = ['netmeter', ...words].map((w) => `'${w}'`).join(' ');
  const program = `${script}\nCOMP_WORDS=(${line}); COMP_CWORD=${words.length}; _netmeter; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const result = spawnSync('bash', ['--norc', '-c', program], { encoding: 'utf8', cwd: REPO_ROOT });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.split('\n').filter(Boolean).sort();
}

test('netmeter completion: a bash script that completes commands, options and their values from the tables', { skip: hasCommand('bash') ? false : 'needs bash' }, () => {
  const result = spawnSync(process.execPath, [CLI, 'completion'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const script = result.stdout;
  assert.deepEqual(complete(script, ['re']), ['record', 'replay', 'report']);
  assert.deepEqual(complete(script, ['--ver']), ['--version']);
  assert.deepEqual(complete(script, ['replay', '--so']), ['--sockets', '--sort']);
  assert.deepEqual(complete(script, ['replay', '--sort', '']), ['received', 'sent', 'total']);
  assert.deepEqual(complete(script, ['report', '--by', 'u']), ['user']);
  assert.deepEqual(complete(script, ['report', '--month', '--gr']), ['--graph'], '--month may stand alone');
  // This host's interfaces starting with l (other tests may have made some beside lo).
  const interfaces = complete(script, ['report', '-i', 'l']);
  assert.ok(interfaces.includes('lo'), String(interfaces));
  assert.ok(interfaces.every((name) => name.startsWith('l')), String(interfaces));
  assert.deepEqual(complete(script, ['replay', 'fixtures/pcap/loopback-mix']).length > 0, true, 'a capture file name');
  assert.ok(!complete(script, ['report', '--']).includes('--now'), 'hidden options are not offered');
  for (const table of commandTables().filter((t) => t.name !== '')) {
    const offered = complete(script, [table.name, '-']);
    for (const option of shown(table)) assert.ok(offered.includes(`--${option.name}`), `${table.name} --${option.name} is offered`);
  }
});
