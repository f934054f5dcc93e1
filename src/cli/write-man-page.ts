// `npm run man`: writes docs/netmeter.1 from the command tables (see man-page.ts).

import { writeFileSync } from 'node:fs';
import { commandTables } from './command-tables.js';
import { netmeterVersion } from './main-command.js';
import { renderManPage } from './man-page.js';

const target = new URL('../../../docs/netmeter.1', import.meta.url);
writeFileSync(target, renderManPage(commandTables(), netmeterVersion()));
process.stdout.write(`wrote ${target.pathname}\n`);
