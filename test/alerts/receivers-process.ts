// The alert receivers (an SMTP server, a webhook endpoint) as a process of their own, so a
// test can start them inside a network namespace beside the daemon: one JSON line when
// ready, then one per message received. The password the SMTP server wants is argv[2].

import { HttpReceiver, SmtpReceiver } from './receivers.js';

const webhook = await new HttpReceiver().start();
const smtp = await new SmtpReceiver(process.argv[2] ?? 'secret').start();
process.stdout.write(`${JSON.stringify({ ready: { webhook: webhook.url, smtpPort: smtp.port } })}\n`);
let mails = 0;
let hooks = 0;
setInterval(() => {
  for (; mails < smtp.mails.length; mails++) process.stdout.write(`${JSON.stringify({ mail: smtp.mails[mails] })}\n`);
  for (; hooks < webhook.accepted.length; hooks++) process.stdout.write(`${JSON.stringify({ webhook: webhook.accepted[hooks] })}\n`);
}, 50);
