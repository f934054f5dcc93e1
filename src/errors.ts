// The base of every error netmeter expects a user to see: its message alone says what went
// wrong and what to do, so the CLI prints it as one line without hinting at --debug.

export class NetmeterError extends Error {}
